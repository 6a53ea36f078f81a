/**
 * The hosted-namespace catalog in a real Redis, in-process: a node's copy of a namespace deleted
 * elsewhere can never write the namespace back (its document would otherwise be left behind
 * without a catalog entry, and the name could not be created again), and a catalog lost with
 * Redis (restart without persistence) is written back from what a node hosts, instead of every
 * node taking the empty catalog for "all deleted".
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connectRedis, type RedisPair } from '../../src/relay/cluster/redis-connection.js';
import { RedisNamespaceCatalog } from '../../src/relay/cluster/redis-namespace-catalog.js';
import { emptyNamespace } from '../../src/relay/namespace-model.js';
import { NamespaceStore, StoreError } from '../../src/relay/namespace-store.js';
import { silentLogger } from '../../src/util/logger.js';
import { RedisServer } from './redis-server.js';

const PREFIX = 'catalog-test:';

describe('relay cluster: hosted-namespace catalog in Redis', () => {
  let redis: RedisServer;
  let pair: RedisPair;
  let catalog: RedisNamespaceCatalog;

  before(async () => {
    redis = await RedisServer.start();
    pair = await connectRedis(redis.url, PREFIX, silentLogger());
    catalog = new RedisNamespaceCatalog(pair);
  });
  after(async () => {
    await pair?.close();
    await redis?.stop();
  });

  const hostedStore = async (name: string) => {
    const store = new NamespaceStore(catalog.backendFor(name));
    await store.open(() => {
      throw new Error('no document');
    });
    return store;
  };

  test('a copy held by a node cannot bring back a namespace deleted meanwhile', async () => {
    assert.equal(await catalog.create('gone-ns', emptyNamespace(), 10), true);
    const store = await hostedStore('gone-ns');
    assert.equal(await catalog.remove('gone-ns'), true);

    // A management write and a reload (what a node does when Redis says "changed" or comes back).
    await assert.rejects(store.createHybridConnection('late', {}), (err: Error) => err instanceof StoreError && err.status === 404 && /deleted/.test(err.message));
    await assert.rejects(store.reload(), (err: Error) => err instanceof StoreError && err.status === 404);
    assert.equal(await pair.command.exists(`${PREFIX}ns:gone-ns:namespace`), 0, 'no document left behind');
    assert.deepEqual(await catalog.list(), []);
    assert.equal(await catalog.create('gone-ns', emptyNamespace(), 10), true, 'the name can be used again');
    assert.deepEqual(await catalog.list(), ['gone-ns']);
    await catalog.remove('gone-ns');
  });

  test('a catalog lost with Redis is written back from what a node hosts; a deletion is still a deletion', async () => {
    assert.equal(await catalog.create('kept-ns', emptyNamespace(), 10), true);
    const store = await hostedStore('kept-ns');
    await store.createHybridConnection('web', {});
    // Nothing was lost: no recovery, whatever this node hosts.
    assert.equal(await catalog.recover(['kept-ns', 'deleted-elsewhere']), false);
    assert.deepEqual(await catalog.list(), ['kept-ns']);

    await pair.command.flushall();
    assert.equal(await catalog.recover(['kept-ns']), true);
    assert.deepEqual(await catalog.list(), ['kept-ns']);
    await store.reload();
    const text = await pair.command.get(`${PREFIX}ns:kept-ns:namespace`);
    assert.ok(text, 'the document is back');
    assert.deepEqual((JSON.parse(text) as { hybridConnections: { name: string }[] }).hybridConnections.map((h) => h.name), ['web']);
    // A second node recovering after the first finds the catalog there and adds nothing.
    assert.equal(await catalog.recover(['kept-ns', 'stale-ns']), false);
    assert.deepEqual(await catalog.list(), ['kept-ns']);

    // Deleting the last namespace leaves an empty catalog that is not mistaken for a lost one.
    await catalog.remove('kept-ns');
    assert.equal(await catalog.recover(['kept-ns']), false);
    assert.deepEqual(await catalog.list(), []);
  });

  test('a node that hosts nothing does not mark a lost catalog as present', async () => {
    await pair.command.flushall();
    assert.equal(await catalog.recover([]), false);
    assert.equal(await catalog.recover(['late-ns']), true, 'a node hosting namespaces still writes them back');
    assert.deepEqual(await catalog.list(), ['late-ns']);
  });
});
