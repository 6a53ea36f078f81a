import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startRelay, type TestRelay } from '../helpers/relay.js';

describe('management API (HTTP)', () => {
  let relay: TestRelay;
  const api = (path: string) => `${relay.httpBase}/$hybridge/v1${path}`;
  const call = async (method: string, path: string, options: { body?: string; token?: string | null } = {}) => {
    const headers: Record<string, string> = {};
    const token = options.token === undefined ? relay.token('') : options.token;
    if (token !== null) headers.ServiceBusAuthorization = token;
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(api(path), { method, headers, body: options.body, signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
  };
  const errorOf = (body: Record<string, unknown> | undefined) => body?.error as { code: string; message: string };

  before(async () => {
    relay = await startRelay({ hybridConnections: ['a'] });
  });
  after(async () => {
    await relay.stop();
  });

  test('a "/" in a name travels as %2F and round-trips', async () => {
    const created = await call('PUT', '/hybridconnections/team%2Fapp.v1', { body: '{"userMetadata":"m"}' });
    assert.equal(created.status, 201);
    assert.equal(created.body?.name, 'team/app.v1');
    assert.equal((await call('GET', '/hybridconnections/team%2Fapp.v1')).body?.userMetadata, 'm');
    const rule = await call('PUT', '/hybridconnections/team%2Fapp.v1/authorizationrules/r', { body: '{"rights":["Listen"]}' });
    assert.equal(rule.status, 200);
    const keys = await call('GET', '/hybridconnections/team%2Fapp.v1/authorizationrules/r/keys');
    assert.match(String(keys.body?.primaryConnectionString), /;EntityPath=team\/app\.v1$/);
    assert.equal((await call('DELETE', '/hybridconnections/team%2Fapp.v1')).status, 204);
  });

  test('malformed requests get 400/404/405 with the relay\'s error shape', async () => {
    const badJson = await call('PUT', '/hybridconnections/x', { body: '{not json' });
    assert.equal(badJson.status, 400);
    assert.deepEqual(errorOf(badJson.body), { code: 'BadRequest', message: 'request body is not valid JSON' });
    assert.equal((await call('PUT', '/hybridconnections/x', { body: '{"requiresClientAuthorization":"no"}' })).status, 400);
    assert.equal((await call('PUT', '/authorizationrules/r', { body: '{"rights":"Send"}' })).status, 400);
    assert.equal((await call('PUT', '/authorizationrules/r', { body: '{"rights":["Read"]}' })).status, 400);
    assert.equal((await call('POST', '/authorizationrules/RootManageSharedAccessKey/regeneratekeys', { body: '{"keyType":"TertiaryKey"}' })).status, 400);
    assert.equal((await call('GET', '/hybridconnections/a/bogus')).status, 404);
    assert.equal((await call('GET', '/bogus')).status, 404);
    assert.equal((await call('POST', '/hybridconnections')).status, 405);
    assert.equal((await call('GET', '/hybridconnections/a%ZZ')).status, 400);
  });

  test('no token is 401; a valid key of another hybrid connection\'s rule is a 403 that names its scope', async () => {
    const missing = await call('GET', '/hybridconnections', { token: null });
    assert.equal(missing.status, 401);
    assert.match(errorOf(missing.body).message, /^MissingToken/);

    await relay.server.store.createHybridConnection('owned', {});
    const owner = await relay.server.store.putRule('owned', 'owner', ['Manage']);
    const ownerToken = relay.token('', { keyName: 'owner', key: owner.secondaryKey });
    assert.equal((await call('GET', '/hybridconnections/owned', { token: ownerToken })).status, 200);
    const elsewhere = await call('PUT', '/hybridconnections/b', { body: '{}', token: ownerToken });
    assert.equal(elsewhere.status, 403);
    assert.match(errorOf(elsewhere.body).message, /^rule "owner" belongs to hybrid connection "owned" and can manage only that one; managing "b" needs a namespace-level Manage rule$/);
    const wrong = await call('GET', '/hybridconnections/a', { token: relay.token('', { keyName: 'owner', key: 'not-the-key-0123456789' }) });
    assert.equal(wrong.status, 401, 'a wrong key stays a 401');
  });

  test('with a rule name many hybrid connections share, only the one the token\'s audience names is checked for that 403', async () => {
    const rules = [];
    for (const name of ['s1', 's2', 's3']) {
      await relay.server.store.createHybridConnection(name, {});
      rules.push(await relay.server.store.putRule(name, 'shared', ['Manage']));
    }
    // Signed for the namespace: which of the three rules it could be is not searched (that would cost one check per hybrid connection).
    const namespaceAudience = relay.token('', { keyName: 'shared', key: rules[1]!.primaryKey });
    const vague = await call('PUT', '/hybridconnections/new-one', { body: '{}', token: namespaceAudience });
    assert.equal(vague.status, 401);
    // Signed for s2, as a client of that rule signs: the rule is named.
    const entityAudience = relay.token('s2', { keyName: 'shared', key: rules[1]!.primaryKey });
    const named = await call('PUT', '/hybridconnections/new-one', { body: '{}', token: entityAudience });
    assert.equal(named.status, 403);
    assert.match(errorOf(named.body).message, /^rule "shared" belongs to hybrid connection "s2"/);
  });
});
