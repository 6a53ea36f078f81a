import { createHmac, timingSafeEqual } from 'node:crypto';
import { formatHost } from './relay-endpoint.js';
import { dotnetUrlEncode, formUrlDecode } from './url-encoding.js';

/** Limits from the .NET SDK (MaxKeyNameLength, MaxKeyLength). */
export const MAX_KEY_NAME_LENGTH = 256;
export const MAX_KEY_LENGTH = 256;

export class SasTokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SasTokenError';
  }
}

export interface SasToken {
  /** `sr` exactly as it appears in the token (still URL-encoded); the signature covers this text. */
  rawResource: string;
  /** `sr` decoded. */
  resource: string;
  /** Decoded base64 signature. */
  signature: string;
  /** Expiry in Unix seconds. */
  expiresAt: number;
  /** `se` as written; the signature covers this text. */
  rawExpiry: string;
  keyName: string;
}

/**
 * The audience the .NET SDK signs: scheme forced to http, port and query dropped, trailing slash
 * added (TokenProvider.NormalizeAudience).
 */
export function normalizeAudience(host: string, entityPath: string): string {
  const path = entityPath.replace(/^\/+/, '').replace(/\/+$/, '');
  return `http://${formatHost(host.toLowerCase())}/${path ? path + '/' : ''}`;
}

/** Builds `SharedAccessSignature sr=..&sig=..&se=..&skn=..` as .NET's SharedAccessSignatureBuilder does. */
export function createSasToken(audience: string, keyName: string, key: string, expiresAt: number): string {
  const sr = dotnetUrlEncode(audience);
  const se = String(Math.floor(expiresAt));
  const sig = signSas(sr, se, key);
  return `SharedAccessSignature sr=${sr}&sig=${dotnetUrlEncode(sig)}&se=${se}&skn=${dotnetUrlEncode(keyName)}`;
}

/** HMAC-SHA256 over `sr + "\n" + se`, keyed with the UTF-8 bytes of the key string (not base64-decoded). */
export function signSas(rawResource: string, expiry: string, key: string): string {
  return createHmac('sha256', Buffer.from(key, 'utf8')).update(`${rawResource}\n${expiry}`, 'utf8').digest('base64');
}

/** Parses a SAS token the way the .NET SDK does; throws SasTokenError with a reason (never echoing the token). */
export function parseSasToken(value: string): SasToken {
  const trimmed = value.trim();
  const space = trimmed.search(/\s/);
  if (space < 0) throw new SasTokenError('token is not of the form "SharedAccessSignature sr=...&sig=...&se=...&skn=..."');
  const scheme = trimmed.slice(0, space);
  if (scheme.toLowerCase() !== 'sharedaccesssignature') throw new SasTokenError('token scheme is not SharedAccessSignature');
  const fields = new Map<string, string>();
  for (const pair of trimmed.slice(space).trim().split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new SasTokenError('token has a field without a value');
    fields.set(pair.slice(0, eq).toLowerCase(), pair.slice(eq + 1));
  }
  const rawResource = fields.get('sr');
  const rawSig = fields.get('sig');
  const rawSe = fields.get('se');
  const rawSkn = fields.get('skn');
  if (!rawResource || !rawSig || !rawSe || !rawSkn) throw new SasTokenError('token lacks one of sr, sig, se, skn');
  const resource = formUrlDecode(rawResource);
  const keyName = formUrlDecode(rawSkn);
  const sigDecoded = formUrlDecode(rawSig);
  if (resource === undefined || keyName === undefined || sigDecoded === undefined) throw new SasTokenError('token has malformed URL encoding');
  if (!/^\d{1,15}$/.test(rawSe)) throw new SasTokenError('token expiry (se) is not a number of seconds');
  if (keyName.length > MAX_KEY_NAME_LENGTH) throw new SasTokenError('token key name is too long');
  // Base64 never contains spaces; a '+' left unencoded by a sloppy client decodes to one.
  const signature = sigDecoded.replace(/ /g, '+');
  return { rawResource, resource, signature, expiresAt: Number(rawSe), rawExpiry: rawSe, keyName };
}

/** Constant-time check of the token's signature against one key. */
export function verifySasSignature(token: SasToken, key: string): boolean {
  const expected = createHmac('sha256', Buffer.from(key, 'utf8'))
    .update(`${token.rawResource}\n${token.rawExpiry}`, 'utf8')
    .digest();
  const given = Buffer.from(token.signature, 'base64');
  if (given.length !== expected.length) return false;
  return timingSafeEqual(given, expected);
}

/** The schemes a token audience may have: what the .NET, Java and Node SDKs sign (protocol reference §4.1). */
const AUDIENCE_SCHEME = /^(?:https?|sb):\/\//i;

/**
 * The entity path a token's resource URI (`sr`, decoded once from the token) names, lower-cased,
 * without leading or trailing slashes and without a leading `$hc/`; undefined when the audience is
 * refused. Only absolute `http://`, `https://` and `sb://` URIs with a host count. The path is
 * decided here, segment by segment, and never by a URL parser's resolution: dot segments (also
 * `%2e%2e`), encoded slashes (`%2f`), backslashes (also `%5c`) and malformed escapes refuse the
 * audience instead of being resolved, so `http://ns/a/../secret` is valid for nothing.
 */
export function audiencePath(resource: string): string | undefined {
  const scheme = AUDIENCE_SCHEME.exec(resource);
  if (!scheme || resource.includes('\\')) return undefined;
  const rest = resource.slice(scheme[0].length);
  const queryAt = rest.search(/[?#]/);
  const hierarchy = queryAt < 0 ? rest : rest.slice(0, queryAt);
  const slash = hierarchy.indexOf('/');
  const authority = slash < 0 ? hierarchy : hierarchy.slice(0, slash);
  if (!isPlainAuthority(authority)) return undefined;
  const segments: string[] = [];
  for (const raw of slash < 0 ? [] : hierarchy.slice(slash + 1).split('/')) {
    const segment = decodeSegment(raw);
    if (segment === undefined || segment === '.' || segment === '..' || /[/\\]/.test(segment)) return undefined;
    segments.push(segment);
  }
  return segments
    .join('/')
    .replace(/^\/+/, '')
    .replace(/\/+$/, '')
    .replace(/^\$hc(?:\/|$)/i, '')
    .toLowerCase();
}

/** A host with an optional port, without user information. */
function isPlainAuthority(authority: string): boolean {
  if (authority === '' || authority.includes('@')) return false;
  try {
    return new URL(`http://${authority}/`).hostname !== '';
  } catch {
    return false;
  }
}

function decodeSegment(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/**
 * Whether a token for `resource` is valid for `entityPath`: the audience path must equal the
 * entity path or be a whole-segment prefix of it (an empty path covers the namespace). Scheme,
 * host and port are not compared: every client spells them differently, and a hybridge server is
 * one namespace, so the key, not the host name, decides. A refused audience covers nothing.
 */
export function audienceCovers(resource: string, entityPath: string): boolean {
  return pathCovers(audiencePath(resource), entityPath);
}

/** Whether an audience path (audiencePath's answer; undefined: refused) covers `entityPath`, as audienceCovers explains. */
export function pathCovers(tokenPath: string | undefined, entityPath: string): boolean {
  if (tokenPath === undefined) return false;
  const entity = entityPath.replace(/^\/+/, '').replace(/\/+$/, '').toLowerCase();
  return tokenPath === '' || tokenPath === entity || entity.startsWith(tokenPath + '/');
}

/** The lower-cased host name of a token's resource URI (no port, no brackets), or undefined when it has none. */
export function audienceHost(resource: string): string | undefined {
  const scheme = AUDIENCE_SCHEME.exec(resource);
  if (!scheme) return undefined;
  const authority = resource.slice(scheme[0].length).split(/[/?#]/, 1)[0] ?? '';
  if (!isPlainAuthority(authority)) return undefined;
  return new URL(`http://${authority}/`).hostname.replace(/^\[|\]$/g, '').toLowerCase();
}
