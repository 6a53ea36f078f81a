/**
 * Fuzz targets: the relay's JWT handling (src/relay/jwt/*): compact JWS decoding, JWKS documents,
 * role mapping files, signature verification with any algorithm name and key, and role decisions
 * on any payload. Only each parser's own error may escape; verification only ever says no.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { SUPPORTED_ALGORITHMS, verifyJwsSignature, type VerificationKey } from '../../src/relay/jwt/jws-algorithms.js';
import { JwksError, parseJwks } from '../../src/relay/jwt/jwks.js';
import { decodeJwt, isJwtCandidate, JwtFormatError, withoutBearer } from '../../src/relay/jwt/jwt-token.js';
import { decideRoles, defaultRoleMapping, parseRoleMapping, RoleMappingError } from '../../src/relay/jwt/role-mapping.js';
import { fc, fuzz, onlyThrows, text } from './fuzz-kit.js';

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value) ?? '').toString('base64url');
const json = fc.jsonValue({ maxDepth: 3 });
const jwtish = fc.oneof(
  text,
  fc.tuple(fc.oneof(json.map(b64), text), fc.oneof(json.map(b64), text), fc.oneof(fc.base64String().map((s) => s.replace(/=/g, '')), text)).map(([h, p, s]) => `${h}.${p}.${s}`),
  fc.tuple(fc.constantFrom('Bearer ', 'bearer\t', ''), fc.record({ alg: fc.oneof(fc.constantFrom(...SUPPORTED_ALGORITHMS, 'none', 'None'), text), kid: fc.option(text) }), json).map(([prefix, h, p]) => `${prefix}${b64(h)}.${b64(p)}.`),
);
const keys: VerificationKey[] = [
  { type: 'public', key: generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey },
  { type: 'public', key: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey },
  { type: 'secret', key: Buffer.alloc(32, 7) },
];
const jwkish = fc.oneof(
  json,
  fc.record({ kty: fc.constantFrom('RSA', 'EC', 'oct', 'OKP', 'x'), kid: fc.option(fc.oneof(text, fc.integer())), use: fc.option(fc.constantFrom('sig', 'enc', 'x')), alg: fc.option(fc.constantFrom(...SUPPORTED_ALGORITHMS, 'none')), n: fc.option(fc.base64String()), e: fc.option(fc.constantFrom('AQAB', 'Aw', '')), crv: fc.option(fc.constantFrom('P-256', 'P-384', 'P-521', 'secp256k1')), x: fc.option(fc.base64String()), y: fc.option(fc.base64String()), k: fc.option(fc.base64String()) }),
);

describe('fuzz: JWTs', () => {
  it('any text: decodeJwt answers a decoded token or JwtFormatError, never more than the size limit is read', () => {
    fuzz(jwtish, (value) => {
      isJwtCandidate(value);
      const decoded = onlyThrows(() => decodeJwt(withoutBearer(value), 4096), JwtFormatError);
      if (decoded) {
        assert.ok(value.length <= 4096 + 16);
        assert.equal(typeof decoded.header, 'object');
        assert.equal(typeof decoded.payload, 'object');
      }
    });
  });

  it('any algorithm name, key and signature: verification says no and never throws', () => {
    fuzz(fc.tuple(fc.oneof(fc.constantFrom(...SUPPORTED_ALGORITHMS, 'none', '__proto__', 'constructor'), text), fc.integer({ min: 0, max: keys.length - 1 }), text, fc.uint8Array({ maxLength: 300 })), ([alg, k, input, signature]) => {
      assert.equal(verifyJwsSignature(alg, keys[k]!, input, Buffer.from(signature)), false);
    });
  });

  it('any JWKS document: parseJwks answers usable keys or JwksError', () => {
    fuzz(fc.oneof(text, json.map((v) => JSON.stringify(v)), fc.array(jwkish, { maxLength: 5 }).map((k) => JSON.stringify({ keys: k }))), (value) => {
      const set = onlyThrows(() => parseJwks(value, { allowSecret: true }), JwksError);
      if (set) assert.ok(set.keys.length > 0);
    });
  });

  it('any role mapping file: parseRoleMapping answers a mapping or RoleMappingError; decisions on any payload never throw', () => {
    const mappingText = fc.oneof(text, json.map((v) => JSON.stringify(v)), fc.record({ claims: fc.option(fc.array(fc.oneof(text, fc.constantFrom('roles', 'scp')))), builtInRoles: fc.option(fc.oneof(fc.boolean(), text)), roles: fc.option(fc.dictionary(text, fc.record({ rights: fc.array(fc.constantFrom('Listen', 'Send', 'Manage', 'listen', 'x')), hybridConnections: fc.option(fc.array(text)) }))) }).map((v) => JSON.stringify(v)));
    fuzz(fc.tuple(mappingText, json, fc.option(text, { nil: undefined })), ([file, payload, entity]) => {
      const mapping = onlyThrows(() => parseRoleMapping(file), RoleMappingError) ?? defaultRoleMapping();
      const claims = typeof payload === 'object' && payload !== null && !Array.isArray(payload) ? (payload as Record<string, unknown>) : { roles: payload };
      const decision = decideRoles(mapping, claims, entity);
      for (const right of decision.namespaceRights) assert.ok(decision.rights.has(right));
    });
  });
});
