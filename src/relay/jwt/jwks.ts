import { createPublicKey } from 'node:crypto';
import { curveOf, isSupportedAlgorithm, keyFitsAlgorithm, type VerificationKey } from './jws-algorithms.js';

/** One usable key of a JSON Web Key Set (RFC 7517). */
export interface SigningKey {
  kid: string | undefined;
  /** The JWK's `alg`, when it names one: then only tokens of that algorithm are verified with it. */
  alg: string | undefined;
  key: VerificationKey;
}

export interface ParsedKeySet {
  keys: SigningKey[];
  /** Keys left out (encryption keys, unknown types, too short): how many, for the log. */
  skipped: number;
}

export class JwksError extends Error {}

/** Entra ID publishes a handful of keys; a set far larger than this is not a signing key set. */
export const MAX_KEYS = 100;

/**
 * Reads a JWKS document. Only public members are used (`n`/`e`, `crv`/`x`/`y`): a published private
 * member is ignored, never imported. Symmetric (`oct`) keys are taken only when `allowSecret` says
 * so (a file the operator wrote), never from the network.
 */
export function parseJwks(text: string, options: { allowSecret: boolean }): ParsedKeySet {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new JwksError('it is not JSON');
  }
  const list = typeof doc === 'object' && doc !== null ? (doc as { keys?: unknown }).keys : undefined;
  if (!Array.isArray(list)) throw new JwksError('it has no "keys" list (a JWKS is {"keys":[...]})');
  if (list.length > MAX_KEYS) throw new JwksError(`it has more than ${MAX_KEYS} keys`);
  const keys: SigningKey[] = [];
  let skipped = 0;
  for (const jwk of list) {
    const key = typeof jwk === 'object' && jwk !== null ? signingKey(jwk as Record<string, unknown>, options.allowSecret) : undefined;
    if (key) keys.push(key);
    else skipped++;
  }
  if (keys.length === 0) throw new JwksError(`it has no usable signing key (RSA of ${2048}+ bits, EC P-256/384/521${options.allowSecret ? ', oct' : ''})`);
  return { keys, skipped };
}

function signingKey(jwk: Record<string, unknown>, allowSecret: boolean): SigningKey | undefined {
  if (jwk.use !== undefined && jwk.use !== 'sig') return undefined;
  if (jwk.kid !== undefined && typeof jwk.kid !== 'string') return undefined;
  if (jwk.alg !== undefined && !isSupportedAlgorithm(jwk.alg)) return undefined;
  const alg = jwk.alg as string | undefined;
  const key = importKey(jwk, allowSecret);
  if (!key) return undefined;
  if (alg !== undefined && !keyFitsAlgorithm(alg, key)) return undefined;
  if (alg !== undefined && jwk.kty === 'EC' && curveOf(alg) !== jwk.crv) return undefined;
  return { kid: jwk.kid as string | undefined, alg, key };
}

function importKey(jwk: Record<string, unknown>, allowSecret: boolean): VerificationKey | undefined {
  const text = (name: string) => (typeof jwk[name] === 'string' ? (jwk[name] as string) : undefined);
  try {
    if (jwk.kty === 'RSA') {
      const n = text('n');
      const e = text('e');
      if (!n || !e) return undefined;
      const key = createPublicKey({ key: { kty: 'RSA', n, e }, format: 'jwk' });
      return (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048 ? { type: 'public', key } : undefined;
    }
    if (jwk.kty === 'EC') {
      const crv = text('crv');
      const x = text('x');
      const y = text('y');
      if (!crv || !x || !y || !['P-256', 'P-384', 'P-521'].includes(crv)) return undefined;
      return { type: 'public', key: createPublicKey({ key: { kty: 'EC', crv, x, y }, format: 'jwk' }) };
    }
    if (jwk.kty === 'oct' && allowSecret) {
      const k = text('k');
      if (!k || !/^[A-Za-z0-9_-]+$/.test(k)) return undefined;
      const secret = Buffer.from(k, 'base64url');
      return secret.length >= 32 ? { type: 'secret', key: secret } : undefined;
    }
  } catch {
    return undefined;
  }
  return undefined;
}
