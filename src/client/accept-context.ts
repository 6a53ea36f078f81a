import type { AcceptCommand, RemoteEndpointInfo } from '../protocol/control-messages.js';

/** What an accept handler sees before any byte flows. */
export interface AcceptContext {
  trackingId: string;
  connectHeaders: Record<string, string>;
  remoteEndpoint?: RemoteEndpointInfo;
  /** The sender's path after the hybrid connection name (no leading slash). */
  pathSuffix: string;
  /** The sender's application query string (no sb-hc-* parameters). */
  query: string;
}

/** `true`/undefined accepts; `false` rejects with 400; an object rejects with that status. */
export type AcceptDecision = boolean | void | { statusCode: number; statusDescription?: string };
export type AcceptHandler = (context: AcceptContext) => AcceptDecision | Promise<AcceptDecision>;

/** The context of an `accept` command: the sender's path suffix and application query from its rendezvous address. */
export function acceptContext(command: AcceptCommand, entityPath: string): AcceptContext {
  let pathSuffix = '';
  let query = '';
  try {
    const url = new URL(command.address);
    const path = decodeURIComponent(url.pathname.replace(/^\/(\$|%24)hc\//i, ''));
    pathSuffix = path.length > entityPath.length ? path.slice(entityPath.length).replace(/^\/+/, '') : '';
    query = url.search
      .replace(/^\?/, '')
      .split('&')
      .filter((p) => p && !/^sb-hc-[^=]*=/i.test(p))
      .join('&');
  } catch {
    // A malformed address fails when we open it; the context just stays empty.
  }
  return { trackingId: command.id, connectHeaders: command.connectHeaders, remoteEndpoint: command.remoteEndpoint, pathSuffix, query };
}

export function headerValue(headers: Record<string, string>, name: string): string | undefined {
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v;
  return undefined;
}
