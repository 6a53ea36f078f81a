/**
 * Compact JWS (RFC 7515) as a JWT (RFC 7519) arrives at the relay: bounded in size before anything
 * else is done with it, three strict base64url parts, a JSON object header and payload. Nothing
 * here trusts the content: the signature and claims are checked by the caller. Error messages
 * never hold any part of the token.
 */

/** Microsoft Entra ID access tokens are 1-3 KiB; a token with many group claims can reach ~8 KiB. */
export const DEFAULT_MAX_JWT_BYTES = 16 * 1024;

export class JwtFormatError extends Error {}

export interface DecodedJwt {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  /** `base64url(header) "." base64url(payload)`: what the signature covers. */
  signingInput: string;
  signature: Buffer;
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;
const SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const BEARER = /^Bearer[ \t]+/i;

/** The token of an `Authorization`-style value: `Bearer <jwt>` gives the JWT, anything else is returned as is. */
export function withoutBearer(value: string): string {
  return value.replace(BEARER, '').trim();
}

/** True for `Bearer <anything>` and for a value shaped like a compact JWS. Cheap: no decoding. */
export function isJwtCandidate(value: string): boolean {
  const trimmed = value.trim();
  return BEARER.test(trimmed) || SHAPE.test(trimmed);
}

export function decodeJwt(token: string, maxBytes = DEFAULT_MAX_JWT_BYTES): DecodedJwt {
  if (token.length > maxBytes) throw new JwtFormatError(`the token is longer than ${maxBytes} bytes`);
  const parts = token.split('.');
  if (parts.length !== 3) throw new JwtFormatError('a JWT has three dot-separated parts');
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  if (!BASE64URL.test(headerPart) || !BASE64URL.test(payloadPart) || !BASE64URL.test(signaturePart)) {
    throw new JwtFormatError('a JWT part is not base64url');
  }
  return {
    header: jsonObject(headerPart, 'header'),
    payload: jsonObject(payloadPart, 'payload'),
    signingInput: `${headerPart}.${payloadPart}`,
    signature: Buffer.from(signaturePart, 'base64url'),
  };
}

function jsonObject(part: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw new JwtFormatError(`the JWT ${what} is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new JwtFormatError(`the JWT ${what} is not a JSON object`);
  return value as Record<string, unknown>;
}
