import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { splitQuery } from './request-url.js';

/**
 * Azure Relay ends every error description with `TrackingId:…, SystemTracker:…, Timestamp:…`
 * (protocol reference §3.1). The .NET and Java SDKs look for the text `TrackingId` in a status
 * description and, when it is there, keep the description as it is instead of appending a
 * tracking id of their own (TrackingContext.EnsureTrackableMessage), so an operator can quote one
 * id that both the client's exception and the relay's log line carry.
 */
const MAX_REASON_CHARS = 300;

export function trackableReason(reason: string, trackingId: string, tracker: string, now = new Date()): string {
  if (reason.includes('TrackingId')) return reason;
  // Bounded so that the tracking part survives the reason phrase's length limit.
  const bounded = reason.length > MAX_REASON_CHARS ? `${reason.slice(0, MAX_REASON_CHARS - 3)}...` : reason;
  const sentence = bounded === '' || bounded.endsWith('.') ? bounded : `${bounded}.`;
  return `${sentence} TrackingId:${trackingId}, SystemTracker:${tracker}, Timestamp:${now.toISOString()}`.trimStart();
}

/** The client's own tracking id (`sb-hc-id`) when it sent a usable one, else a new one. */
export function trackingIdOf(req: IncomingMessage): string {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  const id = q < 0 ? undefined : splitQuery(url.slice(q + 1)).sb.get('sb-hc-id');
  return id && /^[A-Za-z0-9_.:-]{1,64}$/.test(id) ? id : randomUUID();
}

/** `host:path` as the service's SystemTracker names the entity (the path bounded, it is the client's). */
export function systemTracker(req: IncomingMessage, hyco: string | undefined): string {
  const host = /^[A-Za-z0-9.:[\]-]{1,255}$/.test(req.headers.host ?? '') ? req.headers.host! : 'relay';
  return hyco ? `${host}:${hyco.slice(0, 260)}` : host;
}
