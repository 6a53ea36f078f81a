import { constants, createHmac, timingSafeEqual, verify, type KeyObject } from 'node:crypto';

/**
 * The JWS algorithms the relay verifies (RFC 7518 §3), with node:crypto only. `none` is never
 * accepted; HS* only with a symmetric key that was configured explicitly (a JWKS file's `oct` key),
 * never with a public key (the classic RS256→HS256 confusion).
 */
export type VerificationKey = { type: 'public'; key: KeyObject } | { type: 'secret'; key: Buffer };

interface Algorithm {
  hash: 'sha256' | 'sha384' | 'sha512';
  family: 'RSA' | 'RSA-PSS' | 'EC' | 'HMAC';
  /** EC: the curve the key must be on (node's name) and the raw signature length (r || s). */
  curve?: { node: string; jwk: string; signatureBytes: number };
}

const ALGORITHMS: Readonly<Record<string, Algorithm>> = {
  RS256: { hash: 'sha256', family: 'RSA' },
  RS384: { hash: 'sha384', family: 'RSA' },
  RS512: { hash: 'sha512', family: 'RSA' },
  PS256: { hash: 'sha256', family: 'RSA-PSS' },
  PS384: { hash: 'sha384', family: 'RSA-PSS' },
  PS512: { hash: 'sha512', family: 'RSA-PSS' },
  ES256: { hash: 'sha256', family: 'EC', curve: { node: 'prime256v1', jwk: 'P-256', signatureBytes: 64 } },
  ES384: { hash: 'sha384', family: 'EC', curve: { node: 'secp384r1', jwk: 'P-384', signatureBytes: 96 } },
  ES512: { hash: 'sha512', family: 'EC', curve: { node: 'secp521r1', jwk: 'P-521', signatureBytes: 132 } },
  HS256: { hash: 'sha256', family: 'HMAC' },
  HS384: { hash: 'sha384', family: 'HMAC' },
  HS512: { hash: 'sha512', family: 'HMAC' },
};

export const SUPPORTED_ALGORITHMS = Object.keys(ALGORITHMS);

/** RSA keys shorter than this are refused (NIST SP 800-131A). */
export const MIN_RSA_BITS = 2048;
/** HS* keys shorter than the hash are refused (RFC 7518 §3.2). */
export const MIN_HMAC_BYTES = 32;

export function isSupportedAlgorithm(alg: unknown): alg is string {
  return typeof alg === 'string' && Object.prototype.hasOwnProperty.call(ALGORITHMS, alg);
}

/** True when `key` is of the type `alg` needs (and on the right curve, and long enough). */
export function keyFitsAlgorithm(alg: string, key: VerificationKey): boolean {
  const a = ALGORITHMS[alg];
  if (!a) return false;
  if (a.family === 'HMAC') return key.type === 'secret' && key.key.length >= MIN_HMAC_BYTES;
  if (key.type !== 'public') return false;
  const details = key.key.asymmetricKeyDetails;
  if (a.family === 'EC') return key.key.asymmetricKeyType === 'ec' && details?.namedCurve === a.curve!.node;
  return key.key.asymmetricKeyType === 'rsa' && (details?.modulusLength ?? 0) >= MIN_RSA_BITS;
}

/** The JWK `crv` an EC algorithm needs, if it is one. */
export function curveOf(alg: string): string | undefined {
  return ALGORITHMS[alg]?.curve?.jwk;
}

/** Verifies a JWS signature; false for a key that does not fit the algorithm. */
export function verifyJwsSignature(alg: string, key: VerificationKey, signingInput: string, signature: Buffer): boolean {
  const a = ALGORITHMS[alg];
  if (!a || !keyFitsAlgorithm(alg, key)) return false;
  const data = Buffer.from(signingInput, 'ascii');
  if (key.type === 'secret') {
    const expected = createHmac(a.hash, key.key).update(data).digest();
    // The length of an HMAC is public (it is the hash's); the bytes are compared in constant time.
    return signature.length === expected.length && timingSafeEqual(signature, expected);
  }
  try {
    if (a.family === 'EC') {
      if (signature.length !== a.curve!.signatureBytes) return false;
      return verify(a.hash, data, { key: key.key, dsaEncoding: 'ieee-p1363' }, signature);
    }
    if (a.family === 'RSA-PSS') {
      return verify(a.hash, data, { key: key.key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }, signature);
    }
    return verify(a.hash, data, key.key, signature);
  } catch {
    return false;
  }
}
