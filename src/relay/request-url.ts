import type { IncomingMessage } from 'node:http';
import { setOwn } from '../protocol/own-property.js';
import { formUrlDecode } from '../protocol/url-encoding.js';

/** A WebSocket gesture on `/$hc/{path}?sb-hc-action=...` (protocol reference §1). */
export interface HcGesture {
  action: string | undefined;
  /** Decoded path after `/$hc/`, without leading or trailing slashes. */
  path: string;
  id: string | undefined;
  token: string | undefined;
  /** Listener rejection, from `sb-hc-statusCode` or the unprefixed spelling hyco-ws uses. */
  statusCode: string | undefined;
  statusDescription: string | undefined;
  /** The query without sb-hc-* parameters, byte for byte (no leading '?'). */
  appQuery: string;
}

const HC_PREFIX = /^\/(\$|%24)hc(\/|$)/i;

export function isHcPath(rawUrl: string): boolean {
  return HC_PREFIX.test(rawUrl);
}

export interface SplitQuery {
  /** sb-hc-* parameters (names lower-cased, values decoded). */
  sb: Map<string, string>;
  /** Everything else, kept exactly as sent. */
  rest: string[];
}

/**
 * Splits a raw query string. A parameter counts as `sb-hc-*` only when its name starts with
 * `sb-hc-` and an `=` is present; everything else survives byte for byte (`?sb-hc-undefined`,
 * empty pairs, `%2B`), as the service does (protocol reference §1.5).
 */
export function splitQuery(rawQuery: string): SplitQuery {
  const sb = new Map<string, string>();
  const rest: string[] = [];
  if (!rawQuery) return { sb, rest };
  for (const part of rawQuery.split('&')) {
    const eq = part.indexOf('=');
    const name = eq >= 0 ? part.slice(0, eq) : part;
    if (eq >= 0 && name.toLowerCase().startsWith('sb-hc-')) {
      sb.set(name.toLowerCase(), formUrlDecode(part.slice(eq + 1)) ?? '');
    } else {
      rest.push(part);
    }
  }
  return { sb, rest };
}

function rawParts(rawUrl: string): { path: string; query: string } {
  const q = rawUrl.indexOf('?');
  return q < 0 ? { path: rawUrl, query: '' } : { path: rawUrl.slice(0, q), query: rawUrl.slice(q + 1) };
}

export function decodePath(rawPath: string): string | undefined {
  try {
    return decodeURIComponent(rawPath);
  } catch {
    return undefined;
  }
}

export function parseHcGesture(rawUrl: string): HcGesture | undefined {
  const { path: rawPath, query } = rawParts(rawUrl);
  const decoded = decodePath(rawPath.replace(HC_PREFIX, '/'));
  if (decoded === undefined) return undefined;
  const { sb, rest } = splitQuery(query);
  let statusCode = sb.get('sb-hc-statuscode');
  let statusDescription = sb.get('sb-hc-statusdescription');
  const appParts: string[] = [];
  for (const part of rest) {
    const eq = part.indexOf('=');
    const name = (eq >= 0 ? part.slice(0, eq) : part).toLowerCase();
    if (name === 'statuscode' && statusCode === undefined) statusCode = formUrlDecode(part.slice(eq + 1));
    else if (name === 'statusdescription' && statusDescription === undefined) statusDescription = formUrlDecode(part.slice(eq + 1));
    else appParts.push(part);
  }
  return {
    action: sb.get('sb-hc-action')?.toLowerCase(),
    path: decoded.replace(/^\/+/, '').replace(/\/+$/, ''),
    id: sb.get('sb-hc-id') || undefined,
    token: sb.get('sb-hc-token') || undefined,
    statusCode,
    statusDescription,
    appQuery: appParts.join('&'),
  };
}

/** A relayed HTTP request's target: path and query with the sb-hc-* parameters taken out. */
export interface RelayedTarget {
  path: string;
  requestTarget: string;
  token: string | undefined;
}

export function parseRelayedTarget(rawUrl: string): RelayedTarget | undefined {
  const { path: rawPath, query } = rawParts(rawUrl);
  const path = decodePath(rawPath);
  if (path === undefined) return undefined;
  const { sb, rest } = splitQuery(query);
  const hadQuery = rawUrl.includes('?');
  const keptQuery = rest.join('&');
  return {
    path: path.replace(/^\/+/, ''),
    requestTarget: rawPath + (hadQuery && (keptQuery || rest.length > 0) ? `?${keptQuery}` : ''),
    token: sb.get('sb-hc-token') || undefined,
  };
}

/** The first value of a request header (names in lower case). */
export function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The token of a WebSocket gesture: the ServiceBusAuthorization header, else sb-hc-token. */
export function gestureToken(req: IncomingMessage, gesture: HcGesture): string | undefined {
  return headerValue(req, 'servicebusauthorization') || gesture.token;
}

/** The listener's tracking id without the role suffixes the service appends (`GUID_G12` → `GUID`). */
export function listenerIdFromTracking(id: string | undefined): string | undefined {
  if (!id) return undefined;
  return id.replace(/(_G\d+)+$/i, '');
}

/** Headers exactly as the client sent them (case kept), duplicates joined with ", ". */
export function rawHeaderMap(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  const lower = new Map<string, string>();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const key = name.toLowerCase();
    const existing = lower.get(key);
    if (existing !== undefined) setOwn(out, existing, `${out[existing]}, ${value}`);
    else {
      lower.set(key, name);
      setOwn(out, name, value);
    }
  }
  return out;
}

/** The raw (still encoded) path segments after the first `count` segments of `rawPath`. */
export function rawSuffixAfter(rawPath: string, count: number): string {
  return rawPath
    .replace(/\?.*$/, '')
    .split('/')
    .filter((s) => s.length > 0)
    .slice(count)
    .join('/');
}
