/**
 * The shared namespace store on a real Redis, in-process: concurrent changes from two nodes are
 * never lost (compare-and-set, unaffected by other MULTI/EXEC traffic on the same connection),
 * every node sees every change, Redis errors are StoreError 503, and a document lost with Redis
 * (restart without persistence) is written back from a node's copy with the same keys.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connectRedis, type RedisPair } from '../../src/relay/cluster/redis-connection.js';
import { RedisStoreBackend } from '../../src/relay/cluster/redis-store-backend.js';
import { emptyNamespace, ROOT_RULE_NAME } from '../../src/relay/namespace-model.js';
import { NamespaceStore, StoreError } from '../../src/relay/namespace-store.js';
import { silentLogger } from '../../src/util/logger.js';
import { waitFor } from '../helpers/async.js';
import { RedisServer } from './redis-server.js';

const ROOT_KEY = 'redis-store-test-root-key-0123456789';

describe('relay cluster: namespace store in Redis', () => {
  let redis: RedisServer;
  const pairs: RedisPair[] = [];
  const stores: NamespaceStore[] = [];

  before(async () => {
    redis = await RedisServer.start();
    for (let i = 0; i < 2; i++) {
      const pair = await connectRedis(redis.url, 'store-test:', silentLogger());
      pairs.push(pair);
      stores.push(new NamespaceStore(new RedisStoreBackend(pair)));
    }
  });
  after(async () => {
    await Promise.all(pairs.map((p) => p.close()));
    await redis.stop();
  });

  test('two nodes open the same namespace: one creates it', async () => {
    const created = await Promise.all(stores.map((s) => s.open(() => emptyNamespace(ROOT_KEY))));
    assert.equal(created.filter(Boolean).length, 1);
    assert.deepEqual(stores[0]!.document, stores[1]!.document);
  });

  test('40 concurrent changes from two nodes, amid MULTI/EXEC traffic on the same connections: none lost, both nodes see all', async () => {
    let noise = true;
    const churn = (pair: RedisPair) =>
      (async () => {
        for (let i = 0; noise; i++) await pair.command.multi().set('store-test:noise', String(i)).zadd('store-test:noise-z', i, 'n').exec();
      })();
    const churning = pairs.map(churn);
    await Promise.all(stores.flatMap((store, n) => Array.from({ length: 20 }, (_, i) => store.createHybridConnection(`node${n}-hc${i}`, {}))));
    noise = false;
    await Promise.all(churning);
    for (const store of stores) await waitFor(() => store.hybridConnections().length === 40, 5000, 'every change seen by every node');
    const names = stores[0]!.hybridConnections().map((h) => h.name).sort();
    assert.equal(new Set(names).size, 40);
    assert.deepEqual(stores[1]!.hybridConnections().map((h) => h.name).sort(), names);
  });

  test('a document lost with Redis is written back from a node copy, keys unchanged', async () => {
    const before = stores[0]!.document;
    const restored: number[] = [];
    stores.forEach((s, i) => s.on('restored', () => restored.push(i)));
    await pairs[0]!.command.flushall();
    await Promise.all(stores.map((s) => s.reload()));
    assert.equal(restored.length, 1, 'exactly one node wrote it back');
    const text = await pairs[1]!.command.get('store-test:namespace');
    assert.ok(text, 'the document is back in Redis');
    assert.deepEqual(JSON.parse(text) as unknown, before);
    assert.equal(stores[1]!.getRule(undefined, ROOT_RULE_NAME).primaryKey, ROOT_KEY);
    // Management writes work on the restored document.
    await stores[1]!.createHybridConnection('after-restore', {});
    await waitFor(() => stores[0]!.getHybridConnection('after-restore') !== undefined, 5000, 'change seen by the other node');
  });

  test('Redis down: reads keep the copy, writes fail with StoreError 503', async () => {
    await redis.stop();
    await waitFor(() => pairs.every((p) => p.command.status !== 'ready'), 5000, 'connections noticing');
    await assert.rejects(stores[0]!.createHybridConnection('while-down', {}), (err: Error) => err instanceof StoreError && err.status === 503 && /Redis/.test(err.message));
    assert.ok(stores[0]!.getHybridConnection('after-restore'), 'reads served from memory');
    await redis.restart();
    await waitFor(() => pairs.every((p) => p.command.status === 'ready'), 10_000, 'connections back');
    await waitFor(async () => (await pairs[0]!.command.get('store-test:namespace')) !== null, 5000, 'document written back after the restart');
    await stores[0]!.createHybridConnection('after-restart', {});
    await waitFor(() => stores[1]!.getHybridConnection('after-restart') !== undefined, 5000, 'change seen by the other node');
  });
});
