/**
 * hybridge's extensions to relayed HTTP (docs/library.md, "Protocol extensions"). A listener
 * announces what it understands with a header on its control-channel and request-rendezvous
 * upgrades; Azure Relay ignores the header, and a hybridge relay sends extension commands and
 * fields only to listeners that announced them, so Azure SDK listeners never see any.
 *
 * - `abort`: the relay sends `{"hybridgeAbort":{"id":"<request id>"}}` on the control channel when
 *   the sender of a request delivered there goes away before its response is complete. (A request
 *   on a rendezvous is aborted by closing the rendezvous, as in Azure's protocol.)
 * - `connection`: request commands carry `"hybridgeConnection":"<id>"`, the same id for every
 *   request that came on one client connection, and the relay sends
 *   `{"hybridgeConnectionClosed":{"connection":"<id>"}}` on the control channel when that client
 *   connection closes.
 */
export const FEATURES_HEADER = 'Hybridge-Features';
export type HybridgeFeature = 'abort' | 'connection';
/** What the hybridge listener library announces. */
export const LISTENER_FEATURES = 'abort, connection';

/** Longest client-connection id a listener accepts (the relay's are UUIDs). */
export const MAX_CONNECTION_ID_LENGTH = 128;

/** The features in a `Hybridge-Features` header value; unknown tokens are ignored. */
export function parseFeatures(value: string | string[] | undefined): ReadonlySet<HybridgeFeature> {
  const features = new Set<HybridgeFeature>();
  const text = Array.isArray(value) ? value.join(',') : (value ?? '');
  for (const token of text.slice(0, 256).split(',')) {
    const t = token.trim().toLowerCase();
    if (t === 'abort' || t === 'connection') features.add(t);
  }
  return features;
}

export function encodeAbort(requestId: string): string {
  return JSON.stringify({ hybridgeAbort: { id: requestId } });
}

export function encodeConnectionClosed(connection: string): string {
  return JSON.stringify({ hybridgeConnectionClosed: { connection } });
}

/** A client-connection id as a listener takes it: a short non-empty string, else undefined. */
export function connectionIdFrom(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_CONNECTION_ID_LENGTH ? value : undefined;
}

/**
 * A WebSocket upgrade a client sent to a hybrid connection's HTTP address (`/{hyco}/...`, not
 * `/$hc/...`) reaches a listener as an ordinary `accept` whose address keeps the client's path and
 * query, and carries this parameter too. The relay owns the `sb-hc-*` names in its addresses (a
 * sender's own `sb-hc-*` parameters never reach an accept address), so a listener can trust it; SDK
 * listeners just open the address as it is.
 */
export const HTTP_UPGRADE_PARAM = 'sb-hc-via';
export const HTTP_UPGRADE_VALUE = 'http';

/** True when an accept address says the connection is a WebSocket upgrade on the HTTP address. */
export function isHttpUpgradeAddress(query: string): boolean {
  return query.split('&').some((p) => p.toLowerCase() === `${HTTP_UPGRADE_PARAM}=${HTTP_UPGRADE_VALUE}`);
}
