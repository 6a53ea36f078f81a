/**
 * JWT bearer tokens on a running relay, with hybridge's own client in its Microsoft Entra ID mode
 * (a TokenCredential handed to the library; the issuer is local, keys made by the test): a
 * listener and a sender with their roles exchange bytes, the management API and health answer an
 * Owner, wrong roles and scopes get 403, renewToken carries JWTs and the channel closes when the
 * token expires, SAS keeps working beside it, and no log line holds any part of any token.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { AuthorizationFailedError, HybridConnectionClient, HybridConnectionListener, type HybridConnectionOptions, type SecurityToken, type TokenCredentialLike, type TokenProvider } from '../../../src/client/index.js';
import { parseRoleMapping } from '../../../src/relay/jwt/role-mapping.js';
import { delay, waitFor, withTimeout } from '../../helpers/async.js';
import { patternBytes } from '../../helpers/data.js';
import { capturingLogger, startRelay, type TestRelay } from '../../helpers/relay.js';
import { assertDelivered, Cleanup, clientFor, listenerFor, nextConnection } from '../../client/fixtures.js';
import { startLocalIssuer, type LocalIssuer } from './local-issuer.js';

describe('JWT bearer tokens on the relay', () => {
  const cleanup = new Cleanup();
  const issued: string[] = [];
  const { log, records } = capturingLogger();
  let issuer: LocalIssuer;
  let relay: TestRelay;

  /** A token from the local issuer, remembered so the logs can be searched for it. */
  const token = (claims: Record<string, unknown>): string => {
    const t = issuer.token(claims);
    issued.push(t);
    return t;
  };
  /** What Entra ID mode gets from @azure/identity: a TokenCredential. */
  const credential = (roles: string[], ttlSeconds = 3600): TokenCredentialLike => ({
    getToken: async () => {
      const exp = Math.floor(Date.now() / 1000) + ttlSeconds;
      return { token: token({ roles, exp }), expiresOnTimestamp: exp * 1000 };
    },
  });
  const jwtOptions = (entityPath: string, roles: string[], extra: Partial<HybridConnectionOptions> = {}): Partial<HybridConnectionOptions> => ({ connectionString: undefined, endpoint: relay.wsBase, entityPath, credential: credential(roles), ...extra });

  before(async () => {
    issuer = cleanup.add(await startLocalIssuer(), (i) => i.close());
    const roles = parseRoleMapping('roles:\n  tunnel-operator:\n    rights: [Listen, Send]\n    hybridConnections: [tunnel]\n');
    relay = cleanup.add(
      await startRelay({
        hybridConnections: ['web', 'tunnel', 'other', 'short', 'api'],
        log,
        jwt: { issuers: [{ issuer: issuer.issuer, keys: { kind: 'discovery', url: issuer.discoveryUrl, issuer: issuer.issuer } }], roles, clockSkewSeconds: 0 },
      }),
      (r) => r.stop(),
    );
  });
  after(async () => {
    await cleanup.run();
    // Every record the relay wrote, searched for every token and signature the test issued.
    const text = records.map((r) => JSON.stringify(r)).join('\n');
    assert.ok(records.length > 5, 'the relay logged');
    for (const t of issued) {
      const [, payload, signature] = t.split('.') as [string, string, string];
      assert.ok(!text.includes(signature), 'no signature in the log');
      assert.ok(!text.includes(payload), 'no token payload in the log');
    }
  });

  it('a Listener-role listener and a Sender-role sender exchange bytes; each is refused the other right (403)', async () => {
    const listener = cleanup.listener(listenerFor(relay, 'web', jwtOptions('web', ['Azure Relay Listener'])));
    await listener.open();
    const sender = cleanup.stream(await clientFor(relay, 'web', jwtOptions('web', ['Azure Relay Sender'])).createConnection());
    const accepted = cleanup.stream(await nextConnection(listener));
    await assertDelivered(sender, accepted, patternBytes(1_000_000, 3));
    await assertDelivered(accepted, sender, patternBytes(200_000, 4));

    const wrongSender = await clientFor(relay, 'web', jwtOptions('web', ['Azure Relay Listener'])).createConnection().catch((e: Error) => e);
    assert.ok(wrongSender instanceof AuthorizationFailedError && wrongSender.statusCode === 403, String(wrongSender));
    const wrongListener = await new HybridConnectionListener({ endpoint: relay.wsBase, entityPath: 'web', credential: credential(['Azure Relay Sender']) }).open().catch((e: Error) => e);
    assert.ok(wrongListener instanceof AuthorizationFailedError && wrongListener.statusCode === 403, String(wrongListener));
    assert.ok(records.some((r) => r.msg === 'listener refused' && r.status === 403 && /do not grant Listen on "web"/.test(String(r.reason))), 'the refusal is logged with its reason');
  });

  it('the token in sb-hc-token works too; a role scoped to another hybrid connection gets 403', async () => {
    const listener = cleanup.listener(listenerFor(relay, 'tunnel', jwtOptions('tunnel', ['tunnel-operator'], { tokenInQuery: true })));
    await listener.open();
    const sender = cleanup.stream(await clientFor(relay, 'tunnel', jwtOptions('tunnel', ['tunnel-operator'], { tokenInQuery: true })).createConnection());
    const accepted = cleanup.stream(await nextConnection(listener));
    await assertDelivered(sender, accepted, patternBytes(100_000, 5));
    const elsewhere = await new HybridConnectionListener({ endpoint: relay.wsBase, entityPath: 'other', credential: credential(['tunnel-operator']) }).open().catch((e: Error) => e);
    assert.ok(elsewhere instanceof AuthorizationFailedError && elsewhere.statusCode === 403, String(elsewhere));
  });

  it('refusals are 401 with a reason: wrong audience, expired, unknown issuer, Bearer garbage', async () => {
    const now = Math.floor(Date.now() / 1000);
    const cases: [string, RegExp][] = [
      [token({ roles: ['Azure Relay Owner'], aud: 'api://something-else' }), /InvalidAudience/],
      [token({ roles: ['Azure Relay Owner'], exp: now - 10 }), /ExpiredToken/],
      [token({ roles: ['Azure Relay Owner'], nbf: now + 600 }), /TokenNotYetValid/],
      [token({ roles: ['Azure Relay Owner'], iss: 'https://idp.example/' }), /InvalidIssuer/],
    ];
    for (const [bad, reason] of cases) {
      const provider: TokenProvider = { getToken: async (): Promise<SecurityToken> => ({ token: bad, expiresAt: Date.now() + 60_000 }) };
      const error = await new HybridConnectionListener({ endpoint: relay.wsBase, entityPath: 'web', tokenProvider: provider }).open().catch((e: Error) => e);
      assert.ok(error instanceof AuthorizationFailedError && error.statusCode === 401, String(error));
      assert.match(error.message, reason);
    }
  });

  it('Authorization: Bearer on a listen handshake, the management API and health answer the token as SAS', async () => {
    const owner = token({ roles: ['Azure Relay Owner'] });
    const listen = await upgradeStatus(relay.port, '/$hc/web?sb-hc-action=listen', { Authorization: `Bearer ${owner}` });
    assert.equal(listen, 101);
    assert.equal(await upgradeStatus(relay.port, '/$hc/web?sb-hc-action=listen', { Authorization: `Bearer ${token({ roles: ['Azure Relay Sender'] })}` }), 403);

    const list = await fetch(`${relay.httpBase}/$hybridge/v1/hybridconnections`, { headers: { Authorization: `Bearer ${owner}` } });
    assert.equal(list.status, 200);
    const names = ((await list.json()) as { name: string }[]).map((h) => h.name).sort();
    assert.deepEqual(names, ['api', 'other', 'short', 'tunnel', 'web']);
    const raw = await fetch(`${relay.httpBase}/$hybridge/v1/hybridconnections/web`, { headers: { ServiceBusAuthorization: owner } });
    assert.equal(raw.status, 200, 'the bare JWT in ServiceBusAuthorization, as the .NET SDK sends it');
    const created = await fetch(`${relay.httpBase}/$hybridge/v1/hybridconnections/made-by-jwt`, { method: 'PUT', headers: { Authorization: `Bearer ${owner}`, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(created.status, 201);
    const scoped = await fetch(`${relay.httpBase}/$hybridge/v1/hybridconnections`, { headers: { Authorization: `Bearer ${token({ roles: ['Azure Relay Listener'] })}` } });
    assert.equal(scoped.status, 403);
    assert.match(await scoped.text(), /do not grant Manage on the namespace/);

    const health = (await (await fetch(`${relay.httpBase}/$hybridge/health`, { headers: { Authorization: `Bearer ${owner}` } })).json()) as Record<string, unknown>;
    assert.equal(health.status, 'ok');
    assert.equal(typeof health.listeners, 'number', 'an Owner sees the details');
  });

  it('renewToken takes JWTs: 3-second tokens are renewed and the channel stays; a token that is not renewed closes it at expiry (1008)', async () => {
    const listener = cleanup.listener(new HybridConnectionListener({ endpoint: relay.wsBase, entityPath: 'short', tokenProvider: entraLike(credential(['Azure Relay Listener'], 3)) }));
    await listener.open();
    const channel = relay.server.registry.channels('short')[0];
    assert.ok(channel);
    await delay(6000);
    assert.equal(relay.server.registry.channels('short')[0], channel, 'the same control channel after two expiries');
    assert.ok(channel.grant.expiresAt * 1000 > Date.now());
    await listener.close();

    // The same token over and over: the relay accepts the renewal, then closes at its expiry.
    const exp = Math.floor(Date.now() / 1000) + 3;
    const fixed = token({ roles: ['Azure Relay Listener'], exp });
    const stuck = cleanup.listener(new HybridConnectionListener({ endpoint: relay.wsBase, entityPath: 'short', tokenProvider: { getToken: async () => ({ token: fixed, expiresAt: exp * 1000 }) }, reconnectDelaysMs: [60_000] }));
    await stuck.open();
    const second = relay.server.registry.channels('short')[0]!;
    const closed = new Promise<number>((resolve) => second.conn.socket.once('close', () => resolve(Date.now())));
    const at = await withTimeout(closed, 8000, 'closed at expiry');
    assert.ok(at >= exp * 1000 - 100, `closed at expiry, not before (${at - exp * 1000} ms)`);
    await waitFor(() => records.some((r) => r.msg === 'listener offline' && r.hyco === 'short' && r.code === 1008), 5000, 'the relay says why');
  });

  it('a relayed HTTP request with Authorization: Bearer reaches the listener without that header; a Listener token gets 403', async () => {
    const seen: Record<string, string>[] = [];
    const listener = cleanup.listener(
      listenerFor(relay, 'api', {
        ...jwtOptions('api', ['Azure.Relay.Listener:api']),
        requestHandler: (request, response) => {
          seen.push(request.headers);
          response.writeHead(200, { 'content-type': 'text/plain' });
          response.end('hello from the listener');
        },
      }),
    );
    await listener.open();
    const ok = await fetch(`${relay.httpBase}/api/x`, { headers: { Authorization: `Bearer ${token({ roles: ['Azure.Relay.Sender:api'] })}`, 'X-App': 'kept' } });
    assert.equal(ok.status, 200);
    assert.equal(await ok.text(), 'hello from the listener');
    assert.equal(seen.at(-1)?.['x-app'], 'kept');
    assert.equal(seen.at(-1)?.authorization, undefined, 'the relay consumed the token');
    const denied = await fetch(`${relay.httpBase}/api/x`, { headers: { Authorization: `Bearer ${token({ roles: ['Azure.Relay.Listener'] })}` } });
    assert.equal(denied.status, 403);
    assert.match(((await denied.json()) as { error: { message: string } }).error.message, /do not grant Send on "api"/);
    assert.equal(seen.length, 1);
  });

  it('SAS keeps working beside JWTs', async () => {
    const listener = cleanup.listener(listenerFor(relay, 'other'));
    await listener.open();
    const sender = cleanup.stream(await clientFor(relay, 'other').createConnection());
    const accepted = cleanup.stream(await nextConnection(listener));
    await assertDelivered(sender, accepted, patternBytes(300_000, 6));
    const wrongKey = await new HybridConnectionClient({ endpoint: relay.wsBase, entityPath: 'other', keyName: 'RootManageSharedAccessKey', key: 'not-the-key-0123456789' }).createConnection().catch((e: Error) => e);
    assert.ok(wrongKey instanceof AuthorizationFailedError && wrongKey.statusCode === 401);
  });
});

/** The library's Entra ID provider caches tokens until 5 minutes before expiry; for 3-second tokens, ask every time. */
function entraLike(credential: TokenCredentialLike): TokenProvider {
  return {
    getToken: async () => {
      const t = (await credential.getToken('https://relay.azure.net//.default'))!;
      return { token: t.token, expiresAt: t.expiresOnTimestamp };
    },
  };
}

/** The status of a WebSocket upgrade request: 101, or the HTTP status it was refused with. */
function upgradeStatus(port: number, path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers } });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('no answer')));
    req.end();
  });
}
