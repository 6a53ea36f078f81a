/**
 * The relay's JWT check against a local issuer (keys, JWKS and discovery made by the test): every
 * refusal is a 401/403 with a reason that holds no part of the token, roles map to rights at
 * namespace or hybrid-connection scope, and the key set follows rotation without letting a
 * flood of unknown key ids turn into a flood of fetches.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AuthResult } from '../../../src/relay/authorizer.js';
import { JwtAuthorizer, type JwtAuthOptions } from '../../../src/relay/jwt/jwt-authorizer.js';
import { parseRoleMapping } from '../../../src/relay/jwt/role-mapping.js';
import { silentLogger } from '../../../src/util/logger.js';
import { makeKey, signJwt, startLocalIssuer, type LocalIssuer } from './local-issuer.js';

const dir = mkdtempSync(join(tmpdir(), 'hybridge-jwt-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function refused(result: AuthResult, status: 401 | 403, reason: RegExp, token?: string): void {
  assert.equal(result.ok, false, 'refused');
  if (result.ok) return;
  assert.equal(result.status, status, result.reason);
  assert.match(result.reason, reason);
  if (token) for (const part of token.split('.')) if (part.length > 8) assert.ok(!result.reason.includes(part), 'the reason holds no part of the token');
}

async function authorizer(issuer: LocalIssuer, extra: Partial<JwtAuthOptions> = {}, keys: 'discovery' | 'jwks' = 'discovery'): Promise<JwtAuthorizer> {
  const jwt = new JwtAuthorizer(
    {
      issuers: [{ issuer: issuer.issuer, keys: keys === 'discovery' ? { kind: 'discovery', url: issuer.discoveryUrl, issuer: issuer.issuer } : { kind: 'jwks', url: issuer.jwksUrl } }],
      timing: { minRefetchMs: 60_000 },
      ...extra,
    },
    silentLogger(),
  );
  await jwt.start();
  return jwt;
}

describe('JWT bearer tokens', () => {
  let issuer: LocalIssuer;
  let jwt: JwtAuthorizer;
  before(async () => {
    issuer = await startLocalIssuer([makeKey('RS256'), makeKey('ES256'), makeKey('PS256')]);
    jwt = await authorizer(issuer);
  });
  after(async () => {
    jwt.close();
    await issuer.close();
  });

  it('the Azure Relay roles grant what they do in Azure, with RS256, ES256 and PS256 keys, found by OIDC discovery', async () => {
    assert.equal(issuer.hits.get('/tenant/v2.0/.well-known/openid-configuration'), 1);
    for (const key of issuer.keys) {
      const owner = issuer.token({ roles: ['Azure Relay Owner'] }, key);
      for (const right of ['Listen', 'Send', 'Manage'] as const) {
        const result = await jwt.authorize({ token: owner, entity: 'web', right });
        assert.ok(result.ok, `${key.alg} owner ${right}: ${!result.ok && result.reason}`);
        assert.equal(result.grant.scope, undefined, 'namespace scope');
      }
      assert.ok((await jwt.authorize({ token: owner, entity: undefined, right: 'Manage' })).ok, 'namespace management');
    }
    const listener = issuer.token({ roles: ['Azure Relay Listener'] });
    assert.ok((await jwt.authorize({ token: listener, entity: 'web', right: 'Listen' })).ok);
    refused(await jwt.authorize({ token: listener, entity: 'web', right: 'Send' }), 403, /do not grant Send on "web"/);
    const sender = issuer.token({ roles: ['Azure.Relay.Sender'] });
    assert.ok((await jwt.authorize({ token: `Bearer ${sender}`, entity: 'web', right: 'Send' })).ok, 'Bearer prefix');
    refused(await jwt.authorize({ token: sender, entity: 'web', right: 'Listen' }), 403, /do not grant Listen/);
    refused(await jwt.authorize({ token: sender, entity: undefined, right: 'Manage' }), 403, /do not grant Manage on the namespace/);
    refused(await jwt.authorize({ token: issuer.token({ roles: ['Reader'] }), entity: 'web', right: 'Send' }), 403, /no role this relay maps/);
    const scp = issuer.token({ scp: 'openid Azure.Relay.Listener' });
    assert.ok((await jwt.authorize({ token: scp, entity: 'web', right: 'Listen' })).ok, 'scp is read as space-separated roles');
  });

  it('the grant ends when the token does (plus the clock skew)', async () => {
    const exp = Math.floor(Date.now() / 1000) + 120;
    const result = await jwt.authorize({ token: issuer.token({ roles: ['Azure Relay Listener'], exp }), entity: 'web', right: 'Listen' });
    assert.ok(result.ok);
    assert.equal(result.grant.expiresAt, exp + 300);
  });

  it('refuses expired, not yet valid, wrong audience, wrong issuer and tokens without exp, with 401 and a reason', async () => {
    const now = Math.floor(Date.now() / 1000);
    const roles = ['Azure Relay Owner'];
    const cases: [string, RegExp][] = [
      [issuer.token({ roles, exp: now - 301 }), /^ExpiredToken/],
      [issuer.token({ roles, nbf: now + 301 }), /^TokenNotYetValid/],
      [issuer.token({ roles, aud: 'https://servicebus.azure.net' }), /^InvalidAudience/],
      [issuer.token({ roles, aud: ['api://other', 'https://management.azure.com/'] }), /^InvalidAudience/],
      [issuer.token({ roles, iss: 'https://login.example/other/v2.0' }), /^InvalidIssuer/],
      [issuer.token({ roles, exp: undefined }), /^MalformedToken: .*exp/],
    ];
    for (const [token, reason] of cases) refused(await jwt.authorize({ token, entity: 'web', right: 'Send' }), 401, reason, token);
    // Within the skew both are accepted.
    assert.ok((await jwt.authorize({ token: issuer.token({ roles, exp: now - 200 }), entity: 'web', right: 'Send' })).ok);
    assert.ok((await jwt.authorize({ token: issuer.token({ roles, nbf: now + 200 }), entity: 'web', right: 'Send' })).ok);
    assert.ok((await jwt.authorize({ token: issuer.token({ roles, aud: ['api://x', 'https://relay.azure.net'] }), entity: 'web', right: 'Send' })).ok, 'an aud list with the relay in it');
  });

  it('refuses alg none, a tampered signature or payload, algorithm confusion and oversize tokens', async () => {
    const roles = ['Azure Relay Owner'];
    const good = issuer.token({ roles });
    const [h, p, s] = good.split('.') as [string, string, string];
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${p}.`;
    refused(await jwt.authorize({ token: none, entity: 'web', right: 'Send' }), 401, /alg "none"/);
    const flipped = s.slice(0, 10) + (s[10] === 'A' ? 'B' : 'A') + s.slice(11);
    refused(await jwt.authorize({ token: `${h}.${p}.${flipped}`, entity: 'web', right: 'Send' }), 401, /^InvalidSignature/, good);
    const otherPayload = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), roles: ['Azure Relay Owner', 'x'] })).toString('base64url');
    refused(await jwt.authorize({ token: `${h}.${otherPayload}.${s}`, entity: 'web', right: 'Send' }), 401, /^InvalidSignature/);
    // HS256 signed with the RSA key's public JWK as the secret: the classic confusion.
    const rsa = issuer.keys[0]!;
    const confused = signJwt({ ...makeKey('HS256', rsa.kid), privateKey: Buffer.from(JSON.stringify(rsa.jwk)) }, JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>);
    refused(await jwt.authorize({ token: confused, entity: 'web', right: 'Send' }), 401, /^InvalidSignature/);
    // An ES256 token naming the RSA key's kid: the key type does not fit.
    const es = { ...issuer.keys[1]!, kid: rsa.kid };
    refused(await jwt.authorize({ token: issuer.token({ roles }, es), entity: 'web', right: 'Send' }), 401, /^InvalidSignature/);
    const huge = issuer.token({ roles, padding: 'x'.repeat(20_000) });
    refused(await jwt.authorize({ token: huge, entity: 'web', right: 'Send' }), 401, /longer than 16384 bytes/);
    refused(await jwt.authorize({ token: 'Bearer abc.def', entity: 'web', right: 'Send' }), 401, /^MalformedToken/);
    refused(await jwt.authorize({ token: `${h}.${p}.${s}.x`, entity: 'web', right: 'Send' }), 401, /^MalformedToken/);
    refused(await jwt.authorize({ token: issuer.token({ roles }, undefined, { crit: ['exp'] }), entity: 'web', right: 'Send' }), 401, /critical/);
  });

  it('a role limited to one hybrid connection works there and gets 403 on another one and on the namespace', async () => {
    const mapping = parseRoleMapping(['roles:', '  tunnel-operator:', '    rights: [Listen, Send]', '    hybridConnections: [tunnel]', '  admin:', '    rights: [Manage]'].join('\n'));
    const scoped = await authorizer(issuer, { roles: mapping });
    try {
      const token = issuer.token({ roles: ['tunnel-operator'] });
      const there = await scoped.authorize({ token, entity: 'Tunnel', right: 'Listen' });
      assert.ok(there.ok);
      assert.equal(there.grant.scope, 'Tunnel', 'entity scope');
      refused(await scoped.authorize({ token, entity: 'web', right: 'Listen' }), 403, /do not grant Listen on "web"/);
      refused(await scoped.authorize({ token, entity: 'tunnel', right: 'Manage' }), 403, /Manage/);
      // A built-in role scoped in the token itself: "role:hybrid connection".
      const builtIn = issuer.token({ roles: ['Azure.Relay.Sender:web'] });
      assert.ok((await scoped.authorize({ token: builtIn, entity: 'web', right: 'Send' })).ok);
      refused(await scoped.authorize({ token: builtIn, entity: 'tunnel', right: 'Send' }), 403, /Send on "tunnel"/);
      const admin = await scoped.authorize({ token: issuer.token({ roles: ['admin'] }), entity: undefined, right: 'Manage' });
      assert.ok(admin.ok, 'Manage at namespace scope');
    } finally {
      scoped.close();
    }
  });

  it('principals can be mapped by object id (claims: [oid]), as Entra ID tokens for Azure Relay itself carry no roles', async () => {
    const oid = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';
    const mapping = parseRoleMapping(JSON.stringify({ claims: ['oid'], builtInRoles: false, roles: { [oid]: { rights: ['Listen'], hybridConnections: ['web'] } } }));
    const byOid = await authorizer(issuer, { roles: mapping });
    try {
      assert.ok((await byOid.authorize({ token: issuer.token({ oid }), entity: 'web', right: 'Listen' })).ok);
      refused(await byOid.authorize({ token: issuer.token({ oid: 'another-principal' }), entity: 'web', right: 'Listen' }), 403, /no role this relay maps/);
      refused(await byOid.authorize({ token: issuer.token({ oid, roles: ['Azure Relay Owner'] }), entity: 'web', right: 'Send' }), 403, /do not grant Send/, undefined);
    } finally {
      byOid.close();
    }
  });

  it('picks up rotated keys by fetching again on an unknown kid, at most once per interval however many arrive', async () => {
    const rotating = await startLocalIssuer([makeKey('ES256', 'old')]);
    const interval = 1000;
    const relay = await authorizer(rotating, { timing: { minRefetchMs: interval } }, 'jwks');
    try {
      const roles = ['Azure Relay Sender'];
      const old = rotating.token({ roles });
      assert.ok((await relay.authorize({ token: old, entity: 'web', right: 'Send' })).ok);
      assert.equal(rotating.hits.get('/tenant/discovery/keys'), 1);
      const forged = makeKey('ES256');
      const floods = Array.from({ length: 100 }, (_, i) => rotating.token({ roles }, { ...forged, kid: `k${i}` }));
      await new Promise((r) => setTimeout(r, interval + 50));
      rotating.keys = [makeKey('ES256', 'new')];
      // 50 tokens with the new kid at once: one fetch, all admitted.
      const fresh = rotating.token({ roles });
      const results = await Promise.all(Array.from({ length: 50 }, () => relay.authorize({ token: fresh, entity: 'web', right: 'Send' })));
      assert.ok(results.every((r) => r.ok), 'the new key was picked up');
      assert.equal(rotating.hits.get('/tenant/discovery/keys'), 2, 'one fetch for 50 tokens');
      refused(await relay.authorize({ token: old, entity: 'web', right: 'Send' }), 401, /^UnknownKey/);
      // A flood of random kids right after: no further fetch within the interval.
      const flooded = await Promise.all(floods.map((token) => relay.authorize({ token, entity: 'web', right: 'Send' })));
      for (const result of flooded) refused(result, 401, /^UnknownKey/);
      assert.equal(rotating.hits.get('/tenant/discovery/keys'), 2, 'unknown kids do not make the relay fetch again within minRefetchMs');
      // The issuer goes down: the last good set stays in use.
      await new Promise((r) => setTimeout(r, interval + 50));
      rotating.failWith = 503;
      refused(await relay.authorize({ token: rotating.token({ roles }, { ...forged, kid: 'another' }), entity: 'web', right: 'Send' }), 401, /^UnknownKey/);
      assert.equal(rotating.hits.get('/tenant/discovery/keys'), 3);
      assert.ok((await relay.authorize({ token: fresh, entity: 'web', right: 'Send' })).ok, 'the last good set is kept');
    } finally {
      relay.close();
      await rotating.close();
    }
  });

  it('refreshes the set on its own schedule', async () => {
    const scheduled = await startLocalIssuer([makeKey('ES256', 'a')]);
    const relay = await authorizer(scheduled, { timing: { refreshMs: 200, minRefetchMs: 60_000 } }, 'jwks');
    try {
      const start = relay.generation;
      scheduled.keys = [makeKey('ES256', 'b')];
      const deadline = Date.now() + 5000;
      while (relay.generation === start && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.notEqual(relay.generation, start, 'the scheduled refresh loaded the new set');
      assert.ok((await relay.authorize({ token: scheduled.token({ roles: ['Azure Relay Sender'] }), entity: 'web', right: 'Send' })).ok);
    } finally {
      relay.close();
      await scheduled.close();
    }
  });

  it('a discovery document for another issuer is not used, and the relay says why once tokens arrive', async () => {
    const impostor = await startLocalIssuer();
    const relay = new JwtAuthorizer({ issuers: [{ issuer: 'https://idp.example/', keys: { kind: 'discovery', url: impostor.discoveryUrl, issuer: 'https://idp.example/' } }] }, silentLogger());
    try {
      await relay.start();
      const token = impostor.token({ iss: 'https://idp.example/', roles: ['Azure Relay Owner'] });
      refused(await relay.authorize({ token, entity: 'web', right: 'Send' }), 401, /^UnknownKey: the issuer's signing keys are not available/);
      assert.equal(impostor.hits.get('/tenant/discovery/keys'), undefined, 'its jwks_uri was never fetched');
    } finally {
      relay.close();
      await impostor.close();
    }
  });

  it('HS256 only with an oct key from a JWKS file, never with a key from the network', async () => {
    const hs = makeKey('HS256');
    const file = join(dir, 'hs.json');
    writeFileSync(file, JSON.stringify({ keys: [hs.jwk] }));
    const iss = 'https://idp.example/hs';
    const relay = new JwtAuthorizer({ issuers: [{ issuer: iss, keys: { kind: 'file', path: file } }] }, silentLogger());
    await relay.start();
    try {
      const now = Math.floor(Date.now() / 1000);
      const token = signJwt(hs, { iss, aud: 'https://relay.azure.net', exp: now + 60, roles: ['Azure Relay Sender'] });
      assert.ok((await relay.authorize({ token, entity: 'web', right: 'Send' })).ok);
      refused(await relay.authorize({ token: token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA'), entity: 'web', right: 'Send' }), 401, /^InvalidSignature/);
    } finally {
      relay.close();
    }
    // The same oct key served over HTTP is skipped: the set has no usable key.
    const served = await startLocalIssuer([hs]);
    served.keys = [{ ...hs, alg: 'RS256' }];
    const networked = new JwtAuthorizer({ issuers: [{ issuer: iss, keys: { kind: 'jwks', url: served.jwksUrl } }] }, silentLogger());
    try {
      await networked.start();
      assert.equal(networked.keySet(iss)!.size, 0);
    } finally {
      networked.close();
      await served.close();
    }
  });
});
