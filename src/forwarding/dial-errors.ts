/**
 * Why a connection to a target failed, as one of aztunnel's six dial failure codes (they are the
 * shared vocabulary of both hybridge ends: the tunnel sends them in its envelope, the bridge names
 * them in its error replies and logs).
 */
import type { DialFailureCode } from '../protocol/aztunnel-envelope.js';

/** Raised by the runtime when `--connect-timeout` passes before the target answers. */
export class ConnectTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(target: string, timeoutMs: number) {
    super(`connecting to ${target} timed out after ${timeoutMs} ms`);
    this.name = 'ConnectTimeoutError';
  }
}

const SOCKET_CODES: Record<string, DialFailureCode> = {
  ECONNREFUSED: 'connection_refused',
  EHOSTUNREACH: 'host_unreachable',
  EHOSTDOWN: 'host_unreachable',
  ENETUNREACH: 'network_unreachable',
  ENETDOWN: 'network_unreachable',
  ETIMEDOUT: 'timeout',
};

/** Codes that only DNS produces (getaddrinfo via dns.lookup, or c-ares via dns.resolve*). */
const DNS_TIMEOUT_CODES = new Set(['EAI_AGAIN', 'ETIMEOUT']);
const DNS_ONLY_CODES = new Set(['ENOTFOUND', 'ENODATA', 'ESERVFAIL', 'ENONAME', 'EAI_NONAME', 'EAI_FAIL', 'EAI_NODATA', 'EAI_AGAIN', 'ETIMEOUT']);

/**
 * The dial failure code for an error from connecting to a target, or undefined when it fits none
 * (the listener then answers "connection failed" without a code). Handles our ConnectTimeoutError,
 * AbortSignal.timeout() aborts, and the AggregateError that happy-eyeballs connects raise.
 */
export function classifyDialError(error: unknown): DialFailureCode | undefined {
  if (error instanceof ConnectTimeoutError) return 'timeout';
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { name?: unknown; code?: unknown; syscall?: unknown; errors?: unknown; cause?: unknown };
  if (e.name === 'TimeoutError') return 'timeout';
  if (Array.isArray(e.errors)) {
    for (const inner of e.errors) {
      const code = classifyDialError(inner);
      if (code) return code;
    }
  }
  const code = typeof e.code === 'string' ? e.code : undefined;
  const syscall = typeof e.syscall === 'string' ? e.syscall : '';
  if (code && (syscall.startsWith('getaddrinfo') || syscall.startsWith('query') || DNS_ONLY_CODES.has(code))) {
    return DNS_TIMEOUT_CODES.has(code) || code === 'ETIMEDOUT' ? 'dns_timeout' : 'dns_not_found';
  }
  if (code && SOCKET_CODES[code]) return SOCKET_CODES[code];
  if (e.name === 'AbortError' && e.cause !== undefined && e.cause !== error) return classifyDialError(e.cause);
  return undefined;
}

/** Every way a sender's connection attempt can end without a tunnel. */
