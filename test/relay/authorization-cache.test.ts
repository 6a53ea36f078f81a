import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { createSasToken, normalizeAudience } from '../../src/protocol/sas-token.js';
import { AuthorizationCache } from '../../src/relay/authorization-cache.js';
import { FileStoreBackend } from '../../src/relay/file-store-backend.js';
import { emptyNamespace } from '../../src/relay/namespace-model.js';
import { NamespaceStore } from '../../src/relay/namespace-store.js';

const root = mkdtempSync(join(tmpdir(), 'hybridge-auth-cache-'));
after(() => rmSync(root, { recursive: true, force: true }));

async function setup() {
  const store = new NamespaceStore(new FileStoreBackend(join(root, `ns-${Math.random().toString(36).slice(2)}`)));
  await store.open(() => emptyNamespace('auth-cache-root-key-0123456789'));
  await store.ensureHybridConnection('web');
  const rule = await store.putRule('web', 'send', ['Send']);
  const expiry = Math.floor(Date.now() / 1000) + 3600;
  const token = createSasToken(normalizeAudience('relay.example', 'web'), 'send', rule.primaryKey, expiry);
  return { store, cache: new AuthorizationCache(store), token, expiry };
}

describe('AuthorizationCache', () => {
  test('admits a repeated token with the same grant, and refuses it at once after its key is renewed', async () => {
    const { store, cache, token } = await setup();
    const first = await cache.authorize({ token, entity: 'web', right: 'Send' });
    assert.ok(first.ok);
    const second = await cache.authorize({ token, entity: 'web', right: 'Send' });
    assert.equal(second, first, 'the second admission comes from the cache');
    await store.renewKey('web', 'send', 'primary');
    const after = await cache.authorize({ token, entity: 'web', right: 'Send' });
    assert.equal(after.ok, false);
    assert.match(!after.ok ? after.reason : '', /InvalidSignature/);
  });

  test('a cached admission is not reused for another right or entity, nor after the token expires', async () => {
    const { store, cache, token, expiry } = await setup();
    assert.ok((await cache.authorize({ token, entity: 'web', right: 'Send' })).ok);
    const listen = await cache.authorize({ token, entity: 'web', right: 'Listen' });
    assert.equal(listen.ok, false);
    assert.equal(!listen.ok && listen.status, 403);
    await store.ensureHybridConnection('other');
    assert.equal((await cache.authorize({ token, entity: 'other', right: 'Send' })).ok, false);
    const late = await cache.authorize({ token, entity: 'web', right: 'Send', now: expiry + 1 });
    assert.equal(late.ok, false);
    assert.match(!late.ok ? late.reason : '', /ExpiredToken/);
  });

  test('failures are never cached: a rule created afterwards admits the same token', async () => {
    const { store, cache } = await setup();
    const key = 'later-rule-key-0123456789abcdef';
    const token = createSasToken(normalizeAudience('relay.example', 'web'), 'late', key, Math.floor(Date.now() / 1000) + 60);
    assert.equal((await cache.authorize({ token, entity: 'web', right: 'Send' })).ok, false);
    await store.putRule('web', 'late', ['Send']);
    await store.renewKey('web', 'late', 'primary', key);
    assert.ok((await cache.authorize({ token, entity: 'web', right: 'Send' })).ok);
  });
});
