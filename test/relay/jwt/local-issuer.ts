/**
 * A local identity provider for tests: keys made here with node:crypto, the JWKS and an OpenID
 * Connect discovery document served on loopback, tokens signed here. It stands in for Microsoft
 * Entra ID (or any OIDC issuer), which cannot run in the tests.
 */
import { constants, createHmac, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type TestAlg = 'RS256' | 'PS256' | 'ES256' | 'ES384' | 'HS256';

export interface TestKey {
  kid: string;
  alg: TestAlg;
  privateKey: KeyObject | Buffer;
  /** The public JWK as the issuer publishes it (for HS256: the oct key, for a JWKS file). */
  jwk: Record<string, unknown>;
}

export function makeKey(alg: TestAlg, kid = `${alg.toLowerCase()}-${randomBytes(4).toString('hex')}`): TestKey {
  if (alg === 'HS256') {
    const secret = randomBytes(32);
    return { kid, alg, privateKey: secret, jwk: { kty: 'oct', kid, alg, use: 'sig', k: secret.toString('base64url') } };
  }
  const pair =
    alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : alg === 'ES384' ? generateKeyPairSync('ec', { namedCurve: 'P-384' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid, alg, privateKey: pair.privateKey, jwk: { ...pair.publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' } };
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A compact JWS over `payload`; `header` overrides (alg, kid, typ...) win over the key's. */
export function signJwt(key: TestKey, payload: Record<string, unknown>, header: Record<string, unknown> = {}): string {
  const h = { typ: 'JWT', alg: key.alg, kid: key.kid, ...header };
  const input = `${b64(h)}.${b64(payload)}`;
  const data = Buffer.from(input);
  let signature: Buffer;
  if (key.alg === 'HS256') signature = createHmac('sha256', key.privateKey as Buffer).update(data).digest();
  else if (key.alg === 'PS256') signature = sign('sha256', data, { key: key.privateKey as KeyObject, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST });
  else if (key.alg === 'ES256') signature = sign('sha256', data, { key: key.privateKey as KeyObject, dsaEncoding: 'ieee-p1363' });
  else if (key.alg === 'ES384') signature = sign('sha384', data, { key: key.privateKey as KeyObject, dsaEncoding: 'ieee-p1363' });
  else signature = sign('sha256', data, key.privateKey as KeyObject);
  return `${input}.${signature.toString('base64url')}`;
}

export const RELAY_AUDIENCE = 'https://relay.azure.net/';

export interface LocalIssuer {
  /** The `iss` of its tokens (http://127.0.0.1:PORT/tenant/v2.0). */
  issuer: string;
  jwksUrl: string;
  discoveryUrl: string;
  keys: TestKey[];
  /** GET requests per path. */
  hits: Map<string, number>;
  /** Answer every request with this status instead (an issuer that is down). */
  failWith: number | undefined;
  /** A token from this issuer, valid for an hour, with `claims` added (they win). */
  token(claims?: Record<string, unknown>, key?: TestKey, header?: Record<string, unknown>): string;
  close(): Promise<void>;
}

export async function startLocalIssuer(keys: TestKey[] = [makeKey('RS256')]): Promise<LocalIssuer> {
  const hits = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (issuer.failWith !== undefined) return res.writeHead(issuer.failWith).end();
    let body: unknown;
    if (path === '/tenant/v2.0/.well-known/openid-configuration') body = { issuer: issuer.issuer, jwks_uri: issuer.jwksUrl, id_token_signing_alg_values_supported: ['RS256'] };
    else if (path === '/tenant/discovery/keys') body = { keys: issuer.keys.filter((k) => k.alg !== 'HS256').map((k) => k.jwk) };
    else return res.writeHead(404).end();
    const text = JSON.stringify(body);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const issuer: LocalIssuer = {
    issuer: `${base}/tenant/v2.0`,
    jwksUrl: `${base}/tenant/discovery/keys`,
    discoveryUrl: `${base}/tenant/v2.0/.well-known/openid-configuration`,
    keys,
    hits,
    failWith: undefined,
    token(claims = {}, key = issuer.keys[0]!, header = {}) {
      const now = Math.floor(Date.now() / 1000);
      return signJwt(key, { iss: issuer.issuer, aud: RELAY_AUDIENCE, iat: now, nbf: now - 5, exp: now + 3600, sub: 'test-principal', ...claims }, header);
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return issuer;
}
