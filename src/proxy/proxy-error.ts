/**
 * Errors of the proxy layer. Messages name the proxy as scheme://host:port and never carry its user
 * name or password, so they can go to logs and terminals as they are.
 */

/** A proxy URL, NO_PROXY list or proxy setting is malformed (a usage error: fix the setting). */
export class ProxySettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProxySettingsError';
  }
}

/** Why a tunnel through a proxy could not be opened. */
export type ProxyFailure =
  /** The proxy itself could not be reached (refused, unknown name, no route). */
  | 'unreachable'
  /** No answer from the proxy in time. */
  | 'timeout'
  /** The proxy wants credentials, or refused the ones given (HTTP 407, SOCKS5 authentication). */
  | 'authentication'
  /** The proxy's rules do not allow this destination (HTTP 403, SOCKS5 0x02). */
  | 'forbidden'
  /** The proxy answered, but could not reach the relay (HTTP 502/503/504, SOCKS5 0x01, 0x03-0x06). */
  | 'refused'
  /** What came back is not the proxy protocol spoken (wrong port, or not a proxy). */
  | 'protocol'
  /** The proxy closed the connection before the tunnel was up. */
  | 'closed';

/** Failures a retry cannot fix: the user has to change credentials, proxy rules or the proxy URL. */
const PERMANENT: ReadonlySet<ProxyFailure> = new Set(['authentication', 'forbidden', 'protocol']);

export class ProxyError extends Error {
  /** Worth retrying: the proxy or the path behind it may come back. */
  readonly transient: boolean;

  constructor(
    /** scheme://host:port of the proxy (no credentials). */
    readonly proxy: string,
    readonly failure: ProxyFailure,
    message: string,
    /** The proxy's HTTP status, for HTTP CONNECT refusals. */
    readonly statusCode?: number,
  ) {
    super(message);
    this.name = 'ProxyError';
    this.transient = !PERMANENT.has(failure);
  }
}
