import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { DataDirectoryError, FileStoreBackend } from '../../src/relay/file-store-backend.js';
import { emptyNamespace, MAX_RULES_PER_SCOPE, ROOT_RULE_NAME, type NamespaceDocument } from '../../src/relay/namespace-model.js';
import { diffNamespaces, NamespaceStore, StoreError, type NamespaceChange } from '../../src/relay/namespace-store.js';

const ROOT_KEY = 'namespace-store-root-key-0123456789';

const root = mkdtempSync(join(tmpdir(), 'hybridge-namespace-store-'));
let dirs = 0;
const freshDir = () => join(root, `ns-${++dirs}`, 'relay');

async function openStore(dir = freshDir()): Promise<{ store: NamespaceStore; backend: FileStoreBackend; dir: string; created: boolean }> {
  const backend = new FileStoreBackend(dir);
  const store = new NamespaceStore(backend);
  const created = await store.open(() => emptyNamespace(ROOT_KEY));
  return { store, backend, dir, created };
}

function changesOf(store: NamespaceStore): NamespaceChange[] {
  const changes: NamespaceChange[] = [];
  store.on('change', (c: NamespaceChange) => changes.push(c));
  return changes;
}

async function rejectsWithStatus(promise: Promise<unknown>, status: number, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof StoreError, String(err));
    assert.equal(err.status, status, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

after(() => rmSync(root, { recursive: true, force: true }));

describe('FileStoreBackend', () => {
  test('first open creates the document with the root rule; a later open loads it unchanged', async () => {
    const first = await openStore();
    assert.equal(first.created, true);
    const rootRule = first.store.namespaceRules().find((r) => r.keyName === ROOT_RULE_NAME);
    assert.equal(rootRule?.primaryKey, ROOT_KEY);
    assert.deepEqual(rootRule?.rights, ['Listen', 'Send', 'Manage']);
    await first.store.createHybridConnection('kept', { userMetadata: 'm' });

    const second = await openStore(first.dir);
    assert.equal(second.created, false);
    assert.deepEqual(second.store.document, first.store.document);
  });

  test('writes are atomic: 0700 directory, 0600 file, no temp files left, even after failures', async () => {
    const { store, dir } = await openStore();
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(join(dir, 'namespace.json')).mode & 0o777, 0o600);

    // Concurrent changes are serialized; each one lands.
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.createHybridConnection(`hc-${i}`, {})));
    const before = readFileSync(join(dir, 'namespace.json'), 'utf8');
    assert.equal((JSON.parse(before) as NamespaceDocument).hybridConnections.length, 20);

    // A change the store refuses leaves the file byte for byte as it was.
    await rejectsWithStatus(store.createHybridConnection('hc-0', {}), 409);
    assert.equal(readFileSync(join(dir, 'namespace.json'), 'utf8'), before);
    assert.deepEqual(readdirSync(dir).sort(), ['namespace.json', 'server.lock'], 'the open store holds the lock');
    assert.equal(statSync(join(dir, 'namespace.json')).mode & 0o777, 0o600, 'mode survives the rename of each write');
  });

  test('a write that fails half-way removes its temp file and keeps the old document', async () => {
    const dir = freshDir();
    const backend = new FileStoreBackend(dir);
    await backend.update(() => emptyNamespace(ROOT_KEY));
    const before = readFileSync(join(dir, 'namespace.json'), 'utf8');
    // JSON.stringify throws on a BigInt, after the temp file was opened.
    await assert.rejects(
      backend.update((doc) => ({ ...doc!, createdAt: 1n as unknown as string })),
      (err: unknown) => err instanceof DataDirectoryError && /cannot write/.test(err.message),
    );
    assert.deepEqual(readdirSync(dir), ['namespace.json']);
    assert.equal(readFileSync(join(dir, 'namespace.json'), 'utf8'), before);
  });

  test('a write whose rename fails removes its temp file too', async () => {
    const dir = freshDir();
    const backend = new FileStoreBackend(dir);
    await backend.update(() => emptyNamespace(ROOT_KEY));
    const inTheWay = () => {
      // Between reading and writing, a directory (with something in it) takes the document's place: the rename cannot replace it.
      rmSync(join(dir, 'namespace.json'));
      mkdirSync(join(dir, 'namespace.json', 'in-the-way'), { recursive: true });
      return emptyNamespace(ROOT_KEY);
    };
    await assert.rejects(backend.update(inTheWay), (err: unknown) => err instanceof DataDirectoryError && /cannot write/.test(err.message));
    assert.deepEqual(readdirSync(dir), ['namespace.json']);
  });

  test('taking the lock removes temp files a killed server left (each holds every key), and nothing else', async () => {
    const dir = freshDir();
    const backend = new FileStoreBackend(dir);
    await backend.update(() => emptyNamespace(ROOT_KEY));
    const document = readFileSync(join(dir, 'namespace.json'), 'utf8');
    // What kill -9 between writing and renaming leaves behind.
    const leftovers = ['namespace.json.4242.0a1b2c3d.tmp', 'namespace.json.77.ffffffff.tmp'];
    for (const name of leftovers) writeFileSync(join(dir, name), document, { mode: 0o600 });
    writeFileSync(join(dir, 'tls-cert.pem'), 'not ours to remove');
    backend.lock();
    assert.deepEqual(readdirSync(dir).sort(), ['namespace.json', 'server.lock', 'tls-cert.pem']);
    assert.equal(readFileSync(join(dir, 'namespace.json'), 'utf8'), document);
    await backend.close();
  });

  test('a corrupt document is reported, not overwritten', async () => {
    const dir = freshDir();
    const backend = new FileStoreBackend(dir);
    await backend.update(() => emptyNamespace(ROOT_KEY));
    writeFileSync(join(dir, 'namespace.json'), '{"formatVersion": 1, "authorizationRules": [');
    const store = new NamespaceStore(new FileStoreBackend(dir));
    await assert.rejects(store.open(() => emptyNamespace()), /is not valid JSON; restore it from a backup or move it away/);
    assert.equal(readFileSync(join(dir, 'namespace.json'), 'utf8'), '{"formatVersion": 1, "authorizationRules": [');
  });

  test('the lock keeps out a second server, takes over a stale lock and is released on close', async () => {
    const dir = freshDir();
    const backend = new FileStoreBackend(dir);
    backend.lock();
    assert.equal(readFileSync(join(dir, 'server.lock'), 'utf8'), String(process.pid));
    await backend.close();
    assert.deepEqual(readdirSync(dir), []);

    // A live process other than us (pid 1 always exists) holds it.
    writeFileSync(join(dir, 'server.lock'), '1');
    assert.throws(() => new FileStoreBackend(dir).lock(), (err: unknown) => err instanceof DataDirectoryError && /another hybridge server \(pid 1\)/.test(err.message));

    // A dead process's lock, or a half-written one, is stale.
    const child = spawn(process.execPath, ['-e', '']);
    await once(child, 'exit');
    for (const stale of [String(child.pid), '']) {
      writeFileSync(join(dir, 'server.lock'), stale);
      const next = new FileStoreBackend(dir);
      next.lock();
      assert.equal(readFileSync(join(dir, 'server.lock'), 'utf8'), String(process.pid));
      await next.close();
    }
  });
});

describe('NamespaceStore', () => {
  test('hybrid connection names: "/" and "." allowed, "." and ".." segments refused, lookups case-insensitive', async () => {
    const { store } = await openStore();
    const created = await store.createHybridConnection('team/app.v1', { requiresClientAuthorization: false });
    assert.equal(created.requiresClientAuthorization, false);
    assert.equal(store.getHybridConnection('TEAM/App.V1')?.name, 'team/app.v1');
    assert.deepEqual(store.matchPath('team/app.v1/extra/path'), { entity: store.getHybridConnection('team/app.v1'), suffix: 'extra/path' });
    await rejectsWithStatus(store.createHybridConnection('Team/App.v1', {}), 409, /already exists/);
    for (const bad of ['a/..', 'a/./b', '../a', '', 'a//b', '$hc', 'a b']) {
      await assert.rejects(store.createHybridConnection(bad, {}), (err: unknown) => err instanceof StoreError && err.status === 400, bad);
    }
  });

  test('matchPath takes the longest name, and tries only prefixes that can be a name (at most 260 characters)', async () => {
    const { store } = await openStore();
    await store.createHybridConnection('a', {});
    await store.createHybridConnection('a/a', {});
    const longest = `${'b'.repeat(100)}/${'c'.repeat(100)}/${'d'.repeat(58)}`;
    await store.createHybridConnection(longest, {});
    assert.deepEqual(store.matchPath('a//a/x/y'), { entity: store.getHybridConnection('a/a'), suffix: 'x/y' });
    assert.deepEqual(store.matchPath(`${longest}/more`), { entity: store.getHybridConnection(longest), suffix: 'more' });
    assert.equal(store.matchPath('zzz/a'), undefined);
    // Count the lookups of a 10,000-segment path (what an unauthenticated client may send).
    const byName = (store as unknown as { byName: Map<string, unknown> }).byName;
    const get = byName.get.bind(byName);
    let lookups = 0;
    byName.get = (key: string) => {
      lookups++;
      return get(key);
    };
    assert.deepEqual(store.matchPath('a/'.repeat(10_000)), { entity: store.getHybridConnection('a/a'), suffix: 'a/'.repeat(9998).slice(0, -1) });
    assert.ok(lookups <= 131, `${lookups} lookups`);
  });

  test('at most 12 rules per scope; changing an existing rule at the limit still works', async () => {
    const { store } = await openStore();
    // The namespace starts with RootManageSharedAccessKey.
    for (let i = 1; i < MAX_RULES_PER_SCOPE; i++) await store.putRule(undefined, `ns-${i}`, ['Send']);
    await rejectsWithStatus(store.putRule(undefined, 'one-too-many', ['Send']), 409, /at most 12 authorization rules per scope/);
    assert.deepEqual((await store.putRule(undefined, 'ns-1', ['Listen'])).rights, ['Listen']);

    await store.createHybridConnection('limited', {});
    for (let i = 0; i < MAX_RULES_PER_SCOPE; i++) await store.putRule('limited', `hc-${i}`, ['Listen']);
    await rejectsWithStatus(store.putRule('limited', 'one-too-many', ['Listen']), 409);
    await store.deleteRule('limited', 'hc-0');
    await store.putRule('limited', 'one-more', ['Listen']);
    assert.equal(store.rules('limited').length, MAX_RULES_PER_SCOPE);
  });

  test('rule names and rights are validated', async () => {
    const { store } = await openStore();
    await rejectsWithStatus(store.putRule(undefined, 'bad name', ['Send']), 400);
    await rejectsWithStatus(store.putRule(undefined, 'no-rights', []), 400, /at least one right/);
    await rejectsWithStatus(store.putRule('missing', 'r', ['Send']), 404, /hybrid connection "missing" does not exist/);
  });

  test('RootManageSharedAccessKey keeps Manage and cannot be deleted while it is the only Manage rule', async () => {
    const { store } = await openStore();
    await rejectsWithStatus(store.putRule(undefined, ROOT_RULE_NAME, ['Listen', 'Send']), 400, /must keep the Manage right/);
    await rejectsWithStatus(store.deleteRule(undefined, ROOT_RULE_NAME), 409, /only rule with the Manage right/);
    assert.equal(store.getRule(undefined, ROOT_RULE_NAME).primaryKey, ROOT_KEY, 'unchanged after the refusals');
    // With another namespace-level Manage rule in place, it may go.
    await store.putRule(undefined, 'admin', ['Manage']);
    await store.deleteRule(undefined, ROOT_RULE_NAME);
    await rejectsWithStatus(Promise.resolve().then(() => store.getRule(undefined, ROOT_RULE_NAME)), 404);
  });

  test('renewKey replaces one key, checks given values and never echoes them', async () => {
    const { store } = await openStore();
    const before = store.getRule(undefined, ROOT_RULE_NAME);
    const renewed = await store.renewKey(undefined, ROOT_RULE_NAME, 'secondary');
    assert.equal(renewed.primaryKey, before.primaryKey);
    assert.notEqual(renewed.secondaryKey, before.secondaryKey);
    assert.match(renewed.secondaryKey, /^[A-Za-z0-9+/]{43}=$/);
    for (const bad of ['short', 'has;semicolon-0123456789', 'has space-0123456789', 'x'.repeat(257)]) {
      await assert.rejects(
        Promise.resolve().then(() => store.renewKey(undefined, ROOT_RULE_NAME, 'primary', bad)),
        (err: unknown) => err instanceof StoreError && err.status === 400 && !err.message.includes(bad),
      );
    }
    assert.equal((await store.renewKey(undefined, ROOT_RULE_NAME, 'primary', 'a-chosen-key-0123456789')).primaryKey, 'a-chosen-key-0123456789');
  });

  test('changes are announced: hycoDeleted, ruleKeysChanged with the revoked key, ruleRemoved', async () => {
    const { store } = await openStore();
    await store.createHybridConnection('hc', {});
    const listen = await store.putRule('hc', 'listen', ['Listen', 'Send']);
    const ns = await store.putRule(undefined, 'ns', ['Listen']);
    const changes = changesOf(store);

    const renewed = await store.renewKey('hc', 'listen', 'primary');
    assert.deepEqual(changes.splice(0), [{ kind: 'ruleKeysChanged', scope: 'hc', keyName: 'listen', revokedKeys: [listen.primaryKey] }]);

    await store.renewKey(undefined, 'ns', 'secondary');
    assert.deepEqual(changes.splice(0), [{ kind: 'ruleKeysChanged', scope: undefined, keyName: 'ns', revokedKeys: [ns.secondaryKey] }]);

    // Losing a right revokes both keys; gaining one revokes nothing.
    await store.putRule('hc', 'listen', ['Listen']);
    assert.deepEqual(changes.splice(0), [{ kind: 'ruleKeysChanged', scope: 'hc', keyName: 'listen', revokedKeys: [renewed.primaryKey, renewed.secondaryKey] }]);
    await store.putRule('hc', 'listen', ['Listen', 'Send']);
    assert.deepEqual(changes.splice(0), []);

    await store.deleteRule('hc', 'listen');
    assert.deepEqual(changes.splice(0), [{ kind: 'ruleRemoved', scope: 'hc', keyName: 'listen', revokedKeys: [renewed.primaryKey, renewed.secondaryKey] }]);

    await store.updateHybridConnection('hc', { userMetadata: 'x' });
    assert.deepEqual(changes.splice(0), [{ kind: 'hycoUpdated', name: 'hc' }]);

    await store.deleteHybridConnection('hc');
    assert.deepEqual(changes.splice(0), [{ kind: 'hycoDeleted', name: 'hc' }]);
  });

  test('diffNamespaces compares rules case-insensitively and reports nothing for identical documents', () => {
    const before = emptyNamespace(ROOT_KEY);
    assert.deepEqual(diffNamespaces(before, structuredClone(before)), []);
    const renamed = structuredClone(before);
    renamed.authorizationRules[0]!.keyName = ROOT_RULE_NAME.toUpperCase();
    assert.deepEqual(diffNamespaces(before, renamed), []);
    const dropped = structuredClone(before);
    dropped.authorizationRules = [];
    assert.deepEqual(diffNamespaces(before, dropped), [
      { kind: 'ruleRemoved', scope: undefined, keyName: ROOT_RULE_NAME, revokedKeys: [ROOT_KEY, before.authorizationRules[0]!.secondaryKey] },
    ]);
  });
});
