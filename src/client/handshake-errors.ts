import { hostPort, type RelayEndpoint } from '../protocol/relay-endpoint.js';
import { ProxyError, ProxySettingsError } from '../proxy/proxy-error.js';
import { WebSocketHandshakeError, WebSocketTimeoutError } from '../websocket/client-handshake.js';
import { AuthorizationFailedError, EndpointNotFoundError, RelayError, RelayHandshakeError, RelayTimeoutError, redactUrl } from './errors.js';

// 502 is left out: it is what a listener whose accept handler failed answers, and retrying that
// for the whole budget only delays the error.
const TRANSIENT_STATUS = new Set([404, 408, 429, 500, 503, 504]);
const NETWORK_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/**
 * Turns a failed WebSocket handshake into a RelayError that says what happened. `role` decides
 * what 404 means: for a listener the hybrid connection is gone (permanent), for a sender it may
 * just have no listener yet (transient).
 */
export function toRelayError(err: unknown, role: 'listener' | 'sender', what: string, endpoint?: RelayEndpoint): RelayError {
  if (err instanceof RelayError) return err;
  if (err instanceof WebSocketHandshakeError) {
    const description = err.statusMessage || bodyMessage(err.body) || '';
    if (err.statusCode === 401 || err.statusCode === 403) return new AuthorizationFailedError(err.statusCode, description, what);
    if (err.statusCode === 404) {
      const entityMissing = /^Endpoint does not exist/i.test(description);
      return new EndpointNotFoundError(err.statusCode, description, what, role === 'sender' && !entityMissing);
    }
    return new RelayHandshakeError(err.statusCode, description, `${what}: ${err.statusCode} ${description}`.trim(), TRANSIENT_STATUS.has(err.statusCode));
  }
  if (err instanceof WebSocketTimeoutError) return new RelayTimeoutError(`${what}: ${err.message}`);
  // Proxy messages name the proxy (never its credentials) and say what it did.
  if (err instanceof ProxyError || err instanceof ProxySettingsError) return new RelayError(`${what}: ${err.message}`, err instanceof ProxyError && err.transient);
  const e = err as NodeJS.ErrnoException;
  const message = redactUrl(e?.message ?? String(err));
  const at = endpoint ? ` at ${hostPort(endpoint)}` : '';
  // Nothing listens there, or the name does not exist: waiting will not change that, so senders
  // fail at once; a listener's reconnect loop still retries (the relay may be restarting).
  if (e?.code === 'ECONNREFUSED') return new RelayError(`${what}: cannot reach the relay${at} (connection refused); is it running, and is the port right?`, false);
  if (e?.code === 'ENOTFOUND') return new RelayError(`${what}: the relay's host name${endpoint ? ` ${endpoint.host}` : ''} does not resolve (ENOTFOUND)`, false);
  if (/wrong version number|WRONG_VERSION_NUMBER|packet length too long|unknown protocol/i.test(message)) {
    return new RelayError(`${what}: the relay${at} does not speak TLS; for a plain relay use a ws:// (or http://) endpoint instead of sb://, wss:// or https://`, false);
  }
  if (/certificate|self[- ]signed|CERT_/i.test(message)) {
    return new RelayError(`${what}: TLS certificate not trusted (${message}); trust the relay's certificate with NODE_EXTRA_CA_CERTS or --ca`, false);
  }
  if (endpoint && !endpoint.secure && /closed the connection before answering/.test(message)) {
    return new RelayError(`${what}: ${message}; if the relay serves TLS, use an sb:// or wss:// endpoint`, e?.code !== undefined && NETWORK_CODES.has(e.code));
  }
  return new RelayError(`${what}: ${message}`, e?.code !== undefined && NETWORK_CODES.has(e.code));
}

function bodyMessage(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: string } };
    return parsed.error?.message;
  } catch {
    return body.trim().slice(0, 200) || undefined;
  }
}
