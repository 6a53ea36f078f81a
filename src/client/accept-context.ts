import type { AcceptCommand, RemoteEndpointInfo } from '../protocol/control-messages.js';
import { isHttpUpgradeAddress } from '../protocol/hybridge-extensions.js';
import type { WsConnection } from '../websocket/connection.js';

/** What an accept handler sees before any byte flows. */
export interface AcceptContext {
  trackingId: string;
  connectHeaders: Record<string, string>;
  remoteEndpoint?: RemoteEndpointInfo;
  /** The sender's path after the hybrid connection name (no leading slash). */
  pathSuffix: string;
  /** The sender's application query string (no sb-hc-* parameters). */
  query: string;
  /**
   * Set when the sender sent a plain WebSocket upgrade to the hybrid connection's HTTP address
   * (`ws(s)://relay/{hyco}/path?query`, a hybridge relay feature) rather than a `$hc` connect: its
   * request target as sent, path still percent-encoded (`/hyco/path?query`, no sb-hc-* parameters),
   * as RelayedHttpRequest.url has it for HTTP requests.
   */
  requestTarget?: string;
}

/**
 * Accepts with exactly this sub-protocol (none when undefined) and takes the rendezvous as a
 * WebSocket: `onWebSocket` gets its connection (message by message, frames passed up as they come)
 * instead of a 'connection' event with a stream; `onFailed` runs when the rendezvous could not be
 * opened.
 */
export interface AcceptAsWebSocket {
  subProtocol: string | undefined;
  onWebSocket(connection: WsConnection, head: Buffer): void;
  onFailed(error: Error): void;
}

/** `true`/undefined accepts; `false` rejects with 400; `{ statusCode }` rejects with that status; AcceptAsWebSocket takes the WebSocket itself. */
export type AcceptDecision = boolean | void | { statusCode: number; statusDescription?: string } | AcceptAsWebSocket;
export type AcceptHandler = (context: AcceptContext) => AcceptDecision | Promise<AcceptDecision>;

/** The context of an `accept` command: the sender's path suffix and application query from its rendezvous address. */
export function acceptContext(command: AcceptCommand, entityPath: string): AcceptContext {
  let pathSuffix = '';
  let query = '';
  let requestTarget: string | undefined;
  try {
    const url = new URL(command.address);
    const path = decodeURIComponent(url.pathname.replace(/^\/(\$|%24)hc\//i, ''));
    pathSuffix = path.length > entityPath.length ? path.slice(entityPath.length).replace(/^\/+/, '') : '';
    query = url.search
      .replace(/^\?/, '')
      .split('&')
      .filter((p) => p && !/^sb-hc-[^=]*=/i.test(p))
      .join('&');
    if (isHttpUpgradeAddress(url.search.replace(/^\?/, ''))) requestTarget = rawRequestTarget(command.address);
  } catch {
    // A malformed address fails when we open it; the context just stays empty.
  }
  return { trackingId: command.id, connectHeaders: command.connectHeaders, remoteEndpoint: command.remoteEndpoint, pathSuffix, query, ...(requestTarget !== undefined && { requestTarget }) };
}

export function headerValue(headers: Record<string, string>, name: string): string | undefined {
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v;
  return undefined;
}

export function isAcceptAsWebSocket(decision: AcceptDecision): decision is AcceptAsWebSocket {
  return typeof decision === 'object' && decision !== null && 'onWebSocket' in decision;
}

/**
 * The path and query of an accept address as the relay wrote them, `/$hc` taken off and sb-hc-*
 * parameters out: not through URL, which resolves dot segments (`a/%2e%2e/b` would become `b`) and
 * would hide from a proxy's confinement checks what the client asked for.
 */
function rawRequestTarget(address: string): string {
  const raw = address.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, '').replace(/#.*$/, '');
  const q = raw.indexOf('?');
  const path = (q < 0 ? raw : raw.slice(0, q)).replace(/^\/(\$|%24)hc(?=\/)/i, '');
  const query = q < 0 ? '' : raw.slice(q + 1).split('&').filter((p) => p && !/^sb-hc-[^=]*=/i.test(p)).join('&');
  return `${path}${query ? `?${query}` : ''}`;
}
