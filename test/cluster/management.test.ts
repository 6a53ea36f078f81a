/**
 * Management on any node takes effect on every node at once: a key renewed through node C fails on
 * nodes A and B right away (401), the listener on node A admitted with it is closed (1008), and so
 * is a connection relayed by node B to that listener. A listener that renewed its token with
 * another key is known cluster-wide by that key (its registry entry follows renewToken).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { HybridConnectionClient, HybridConnectionListener, type HybridConnectionStream, type TokenProvider } from '../../src/client/index.js';
import { createSasToken } from '../../src/protocol/sas-token.js';
import { keyFingerprint } from '../../src/relay/authorizer.js';
import { delay, waitFor, withTimeout } from '../helpers/async.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { startCluster, type Cluster, type ClusterNode } from './cluster-kit.js';
import { ExchangeListener, expected, FAST_RECONNECT_MS, runExchange } from './peers.js';
import { KiB } from './streams.js';

interface Keys {
  primaryKey: string;
  secondaryKey: string;
}

describe('relay cluster: management takes effect on every node', () => {
  let cluster: Cluster;
  let a: ClusterNode, b: ClusterNode, c: ClusterNode;
  let redis: Redis;
  const cleanups: (() => unknown)[] = [];

  before(async () => {
    cluster = await startCluster({ hycos: ['mgmt', 'rotate'] });
    [a, b, c] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode];
    redis = new Redis(cluster.redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
  });
  after(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
    redis?.disconnect();
    await cluster?.stop();
  });

  const manageJson = async <T>(node: ClusterNode, args: string[]): Promise<T> => {
    const result = await cluster.manage(node, args);
    assert.equal(result.code, 0, `hybridge ${args.join(' ')} via ${node.id}: ${result.stderr}`);
    return JSON.parse(result.stdout) as T;
  };
  const createRule = (node: ClusterNode, hyco: string, name: string, rights: string[]) =>
    manageJson<unknown>(node, ['hyco', 'authorization-rule', 'create', '--hybrid-connection-name', hyco, '-n', name, '--rights', ...rights]);
  const renew = (node: ClusterNode, hyco: string, name: string, which: 'PrimaryKey' | 'SecondaryKey') =>
    manageJson<Keys>(node, ['hyco', 'authorization-rule', 'keys', 'renew', '--hybrid-connection-name', hyco, '-n', name, '--key', which]);
  const keysOf = (node: ClusterNode, hyco: string, name: string) => manageJson<Keys>(node, ['hyco', 'authorization-rule', 'keys', 'list', '--hybrid-connection-name', hyco, '-n', name]);

  /** An open relayed stream from `node` to whichever listener takes it, kept open by the test. */
  const openStream = async (node: ClusterNode, hyco: string): Promise<HybridConnectionStream> => {
    // The listener keeps its direction open (a slow reply), so the close code the sender sees is the relay's.
    const stream = await new HybridConnectionClient(cluster.connectionString(node.url, hyco)).createConnection({
      retryBudgetMs: 0,
      headers: { 'X-Reply-Bytes': String(64 * KiB), 'X-Reply-Ms': '30000' },
    });
    stream.on('error', () => undefined);
    cleanups.push(() => stream.destroy());
    stream.write(patternBytes(4 * KiB, 9));
    return stream;
  };
  const closeCodeOf = async (stream: HybridConnectionStream, timeoutMs: number): Promise<number> => {
    if (!stream.closed) await withTimeout(once(stream, 'close'), timeoutMs, 'relayed stream close');
    return stream.closeCode;
  };

  test('a hybrid connection created through node B is usable on node C at once and counted cluster-wide', async () => {
    await manageJson(b, ['hyco', 'create', '-n', 'made-on-b']);
    const listener = await ExchangeListener.open('made-on-b-listener', cluster.connectionString(c.url, 'made-on-b'));
    cleanups.push(() => listener.close());
    const shown = await manageJson<{ listenerCount: number }>(a, ['hyco', 'show', '-n', 'made-on-b']);
    assert.equal(shown.listenerCount, 1, 'node A counts the listener connected to node C');
  });

  test('keys renew through node C: the old key fails on nodes A and B immediately; its listener and relayed connections are closed with 1008', async () => {
    await createRule(a, 'mgmt', 'app', ['Listen', 'Send']);
    const old = await keysOf(b, 'mgmt', 'app');
    const oldKey = { name: 'app', key: old.primaryKey };
    const listener = await ExchangeListener.open('mgmt-a', cluster.connectionString(a.url, 'mgmt', oldKey));
    cleanups.push(() => listener.close());
    // Before: the key works as a sender on both nodes.
    for (const node of [a, b]) {
      const upload = patternBytes(8 * KiB, 31);
      const r = await runExchange(cluster.connectionString(node.url, 'mgmt', oldKey), [listener], { upload, replyBytes: 8 * KiB, replySeed: 32 });
      assert.deepEqual(r.reply, expected(8 * KiB, 32));
      assert.equal(r.atListener.sha256, sha256(upload));
    }
    // A connection relayed by node B (sender with the root key) to the listener admitted with the old key.
    const relayedByB = await openStream(b, 'mgmt');

    const renewed = await renew(c, 'mgmt', 'app', 'PrimaryKey');
    const renewedAt = Date.now();
    assert.notEqual(renewed.primaryKey, old.primaryKey);

    for (const node of [a, b]) {
      const attempt = new HybridConnectionClient(cluster.connectionString(node.url, 'mgmt', oldKey)).createConnection({ retryBudgetMs: 0 });
      await assert.rejects(attempt, (err: Error & { statusCode?: number }) => err.statusCode === 401, `old key on ${node.id} right after the renewal`);
    }
    const firstRefusalMs = Date.now() - renewedAt;
    assert.equal(await closeCodeOf(relayedByB, 5000), 1008, 'node B closed the relayed connection whose listener used the old key');
    await waitFor(() => listener.errors.some((e) => /\b1008\b/.test(e.message)), 5000, 'listener on node A closed with 1008');
    console.log(`old key refused on nodes A and B within ${firstRefusalMs} ms of the renewal through node C returning`);

    // The new key works on every node.
    const newKey = { name: 'app', key: renewed.primaryKey };
    const fresh = await ExchangeListener.open('mgmt-a2', cluster.connectionString(a.url, 'mgmt', newKey));
    cleanups.push(() => fresh.close());
    const upload = patternBytes(8 * KiB, 33);
    const r = await runExchange(cluster.connectionString(b.url, 'mgmt', newKey), [fresh], { upload, replyBytes: 8 * KiB, replySeed: 34, allowedListeners: ['mgmt-a2'] });
    assert.deepEqual(r.reply, expected(8 * KiB, 34));
    assert.equal(r.atListener.sha256, sha256(upload));
  });

  test("a listener's renewToken with another key updates its registry entry: revocation across nodes follows the current key", async () => {
    await createRule(a, 'rotate', 'rot', ['Listen']);
    const keys = await keysOf(a, 'rotate', 'rot');
    let calls = 0;
    // First token: primary key, 4-5 s (renewed at 80 % of that); later tokens: secondary key.
    const provider: TokenProvider = {
      getToken: async (audience) => {
        calls++;
        // SAS expiry is in whole seconds: report exactly that instant, so the renewal comes before it.
        const expirySeconds = Math.ceil((Date.now() + (calls === 1 ? 4000 : 3_600_000)) / 1000);
        return { token: createSasToken(audience, 'rot', calls === 1 ? keys.primaryKey : keys.secondaryKey, expirySeconds), expiresAt: expirySeconds * 1000 };
      },
    };
    const listener = new HybridConnectionListener({ endpoint: a.url, entityPath: 'rotate', tokenProvider: provider, listenerId: 'rotating', reconnectDelaysMs: FAST_RECONNECT_MS });
    const errors: Error[] = [];
    listener.on('error', (e) => errors.push(e));
    let onlineEvents = 0;
    listener.on('online', () => onlineEvents++);
    listener.on('connection', (s) => s.on('error', () => undefined).resume());
    cleanups.push(() => withTimeout(listener.close(), 10_000, 'listener close'));
    await withTimeout(listener.open(), 10_000, 'listener open');

    const entry = async () => Object.values(await redis.hgetall('hybridge:listeners:rotate')).map((v) => JSON.parse(v) as { grant: { keyFingerprint: string } });
    await waitFor(async () => (await entry())[0]?.grant.keyFingerprint === keyFingerprint(keys.primaryKey), 5000, 'registry entry with the primary key');
    await waitFor(async () => (await entry())[0]?.grant.keyFingerprint === keyFingerprint(keys.secondaryKey), 8000, 'registry entry carrying the secondary key after renewToken');
    assert.equal(calls, 2, 'one renewal');
    assert.equal(onlineEvents, 1, 'the same control channel: the entry changed through renewToken, not a reconnect');
    assert.equal(errors.length, 0, errors.map((e) => e.message).join('; '));

    const relayedByB = await openStream(b, 'rotate');
    // Revoking the key the listener no longer uses cuts nothing, on any node.
    await renew(c, 'rotate', 'rot', 'PrimaryKey');
    await delay(500);
    assert.equal(relayedByB.closed, false, 'node B keeps the connection of a listener that moved to the secondary key');
    assert.equal(listener.isOnline, true, 'node A keeps the listener');
    assert.ok(!errors.some((e) => /1008/.test(e.message)), errors.map((e) => e.message).join('; '));
    // Revoking the key it does use cuts both: the control channel on node A, the connection on node B.
    await renew(c, 'rotate', 'rot', 'SecondaryKey');
    assert.equal(await closeCodeOf(relayedByB, 5000), 1008, 'node B closed the connection after the listener key it now uses was revoked');
    await waitFor(() => errors.some((e) => /\b1008\b/.test(e.message)), 5000, 'listener closed with 1008 on node A');
  });
});
