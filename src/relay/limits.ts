import { readFileSync } from 'node:fs';

/**
 * Everything the relay bounds for a client it has not (or not yet) reason to trust. A plain data
 * object, passed down to the parts that enforce it. docs/security.md lists each limit with its
 * flag and what a client gets when it hits it; keep that page in step with this file.
 */
export interface RelayLimits {
  /** Longest request target (path and query), checked before any lookup: 414 above it. */
  maxRequestTargetBytes: number;
  /** Largest request head (request line and headers): 431 above it. */
  maxHeaderBytes: number;
  /** How long a request head may take to arrive: then 408, and the socket is destroyed. */
  headerTimeoutMs: number;
  /** How long a connection may stay open before it authenticates (token, or a rendezvous address): then it is destroyed. */
  handshakeTimeoutMs: number;
  /** An HTTP connection without traffic in either direction for this long is destroyed. */
  idleTimeoutMs: number;
  /** Connections one client address may hold before they authenticate: more are closed at once. */
  maxUnauthenticatedPerAddress: number;
  /** Sockets the relay holds in all: more are closed at once. */
  maxSockets: number;
  /** Connections of the namespace on this node (control channels, waiting and relayed senders, HTTP requests in flight): 503 above it. */
  maxConnectionsPerNamespace: number;
  /** Listeners per hybrid connection: 403 QuotaExceeded above it. */
  maxListenersPerHyco: number;
  /** Senders waiting for a listener's accept, per hybrid connection: 503 above it. */
  maxPendingSendersPerHyco: number;
  /** Bytes queued towards one control channel (control frames included): over it the listener gets no more work. */
  maxControlChannelBufferedBytes: number;
  /** Bytes queued towards one relayed leg by the relay itself beyond what backpressure allows: the connection is closed 1008. */
  maxLegBufferedBytes: number;
  /** How long a peer may stay over its write budget (it does not read) before it is closed 1008. */
  writeStallMs: number;
  /** Largest control message (a JSON command) on a control channel or request rendezvous: 1009 above it. */
  maxControlMessageBytes: number;
  /** Largest response body a listener may send inline on its control channel: 502 for that request above it. */
  maxControlBodyBytes: number;
}

export const DEFAULT_RELAY_LIMITS: Readonly<RelayLimits> = Object.freeze({
  maxRequestTargetBytes: 8 * 1024,
  maxHeaderBytes: 32 * 1024,
  headerTimeoutMs: 15_000,
  handshakeTimeoutMs: 30_000,
  idleTimeoutMs: 120_000,
  maxUnauthenticatedPerAddress: 512,
  // Two sockets per relayed connection at the namespace quota, and room for listeners and handshakes.
  maxSockets: 12_000,
  maxConnectionsPerNamespace: 5_000,
  maxListenersPerHyco: 25,
  maxPendingSendersPerHyco: 1_000,
  maxControlChannelBufferedBytes: 4 * 1024 * 1024,
  maxLegBufferedBytes: 1024 * 1024,
  writeStallMs: 10_000,
  maxControlMessageBytes: 64 * 1024,
  maxControlBodyBytes: 1024 * 1024,
});

export type LimitUnit = 'count' | 'bytes' | 'ms';

export const LIMIT_UNITS: Readonly<Record<keyof RelayLimits, LimitUnit>> = Object.freeze({
  maxRequestTargetBytes: 'bytes',
  maxHeaderBytes: 'bytes',
  headerTimeoutMs: 'ms',
  handshakeTimeoutMs: 'ms',
  idleTimeoutMs: 'ms',
  maxUnauthenticatedPerAddress: 'count',
  maxSockets: 'count',
  maxConnectionsPerNamespace: 'count',
  maxListenersPerHyco: 'count',
  maxPendingSendersPerHyco: 'count',
  maxControlChannelBufferedBytes: 'bytes',
  maxLegBufferedBytes: 'bytes',
  writeStallMs: 'ms',
  maxControlMessageBytes: 'bytes',
  maxControlBodyBytes: 'bytes',
});

/** Descriptors kept free for files, Redis and the like when the socket cap follows the open-file limit. */
export const DESCRIPTOR_RESERVE = 256;

export class LimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LimitError';
  }
}

/**
 * The limits in force: the defaults with `given` on top. A socket cap that was not given follows
 * the process's open-file limit (less a reserve), so the relay refuses sockets before the kernel
 * refuses descriptors; the per-address cap that was not given is at most half the socket cap.
 */
export function resolveRelayLimits(given: Partial<RelayLimits> = {}, openFileLimit = readOpenFileLimit()): RelayLimits {
  const limits: RelayLimits = { ...DEFAULT_RELAY_LIMITS };
  for (const [key, value] of Object.entries(given) as [keyof RelayLimits, number | undefined][]) {
    if (value === undefined) continue;
    if (!(key in LIMIT_UNITS)) throw new LimitError(`unknown relay limit "${key}"`);
    if (!Number.isSafeInteger(value) || value < 1) throw new LimitError(`relay limit ${key} must be a positive whole number, not ${value}`);
    limits[key] = value;
  }
  if (given.maxSockets === undefined && openFileLimit !== undefined) {
    limits.maxSockets = Math.max(64, Math.min(limits.maxSockets, openFileLimit - DESCRIPTOR_RESERVE));
  }
  if (given.maxUnauthenticatedPerAddress === undefined) {
    limits.maxUnauthenticatedPerAddress = Math.max(1, Math.min(limits.maxUnauthenticatedPerAddress, Math.floor(limits.maxSockets / 2)));
  }
  return limits;
}

/** Problems worth a warning at start: a socket cap the open-file limit cannot honour. */
export function limitWarnings(limits: RelayLimits, openFileLimit = readOpenFileLimit()): string[] {
  const warnings: string[] = [];
  if (openFileLimit !== undefined && limits.maxSockets > openFileLimit - DESCRIPTOR_RESERVE) {
    warnings.push(`--max-sockets ${limits.maxSockets} is above what the open-file limit (${openFileLimit}) leaves for sockets; raise it (ulimit -n, LimitNOFILE=) or lower --max-sockets`);
  }
  return warnings;
}

/** The soft RLIMIT_NOFILE of this process (Linux), or undefined where it cannot be read. */
export function readOpenFileLimit(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    const n = Number(soft);
    return Number.isSafeInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}
