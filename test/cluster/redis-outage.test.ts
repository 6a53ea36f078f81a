/**
 * Redis stopped and started again, empty (no persistence). While it is down: established
 * connections keep working, a sender on a node with a local listener still gets through, routing
 * that needs the registry fails at once with a clear 503 (WebSocket and HTTP), management writes
 * fail with a clear 503, and a listener can still connect to its node. When Redis is back: the
 * nodes write back the namespace document and their listeners, so cross-node routing and
 * management work again within seconds, with the same keys, and the listener that connected
 * during the outage is routable from every node.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { HybridConnectionClient } from '../../src/client/index.js';
import { delay, freePort, waitFor } from '../helpers/async.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { spawnHybridge, waitExit } from '../helpers/processes.js';
import { cleanEnv, oneLine } from '../relay/management-cli-kit.js';
import { startCluster, type Cluster, type ClusterNode } from './cluster-kit.js';
import { arrival, checkedExchange, endClusterSuite, ExchangeListener, expected, sendHttp, startExchange } from './peers.js';
import { KiB, MiB } from './streams.js';

describe('relay cluster: Redis goes away and comes back empty', () => {
  let cluster: Cluster;
  let a: ClusterNode, b: ClusterNode, c: ClusterNode;
  const listeners: ExchangeListener[] = [];

  before(async () => {
    cluster = await startCluster({ hycos: ['outage'] });
    [a, b, c] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode];
  });
  after(() => endClusterSuite(cluster, listeners));

  const quickExchange = (node: ClusterNode, seed: number, options: { allowedListeners?: string[]; retryBudgetMs?: number } = {}) =>
    checkedExchange(cluster.connectionString(node.url, 'outage'), listeners, { bytes: 16 * KiB, uploadSeed: seed, replySeed: seed + 1, timeoutMs: 10_000, ...options, what: `exchange ${seed}` });

  test('outage: serve what can be served, refuse the rest with 503; recovery within seconds', async () => {
    const onA = await ExchangeListener.open('outage-a', cluster.connectionString(a.url, 'outage'));
    listeners.push(onA);
    await quickExchange(b, 10);

    // An established cross-node connection (relayed by node B) that runs through the whole outage.
    const upload = patternBytes(16 * MiB, 20);
    const established = await startExchange(cluster.connectionString(b.url, 'outage'), { upload, replyBytes: 16 * MiB, replySeed: 21, uploadMs: 6000, replyMs: 6000, allowedListeners: ['outage-a'] });
    await delay(300);

    await cluster.redis.stop();
    const stoppedAt = Date.now();
    for (const node of [a, b, c]) await node.waitForLog('Redis unreachable; serving what this node can without it', 5000);

    // A sender on node A, where the listener is, gets through.
    await quickExchange(a, 30);

    // Cross-node routing without a local listener: a prompt, clear 503.
    const refusedStart = Date.now();
    await assert.rejects(
      new HybridConnectionClient(cluster.connectionString(b.url, 'outage')).createConnection({ retryBudgetMs: 0 }),
      (err: Error & { statusCode?: number }) => err.statusCode === 503 && /Redis/.test(err.message),
    );
    const wsRefusedMs = Date.now() - refusedStart;
    const http = await sendHttp(`${c.httpUrl}/outage/x`, cluster.token('outage'), { timeoutMs: 5000 });
    assert.equal(http.status, 503, 'HTTP through a node without a local listener');
    assert.match(http.body.toString('utf8'), /Redis/);

    // Management: reads from memory, writes refused with a clear 503.
    const write = await cluster.manage(c, ['hyco', 'create', '-n', 'during-outage']);
    assert.equal(write.code, 1);
    assert.match(oneLine(write.stderr) ?? write.stderr, /503.*Redis.*unreachable|Redis.*unreachable.*503/);
    const read = await cluster.manage(c, ['hyco', 'show', '-n', 'outage']);
    assert.equal(read.code, 0, read.stderr);

    // A listener connects to node C during the outage and serves senders on node C.
    const onC = await ExchangeListener.open('outage-c', cluster.connectionString(c.url, 'outage'));
    listeners.push(onC);
    assert.equal((await quickExchange(c, 40, { allowedListeners: ['outage-c'] })).atListener.listener, 'outage-c');

    // Redis returns, empty.
    await cluster.redis.restart();
    const restartedAt = Date.now();
    await waitFor(
      async () => {
        try {
          await quickExchange(b, 50, { allowedListeners: ['outage-a'] });
          return true;
        } catch {
          return false;
        }
      },
      10_000,
      'cross-node routing after Redis returned',
      100,
    );
    const routingBackMs = Date.now() - restartedAt;
    assert.ok(routingBackMs < 5000, `cross-node routing back within 5 s (${routingBackMs} ms)`);
    assert.ok(
      cluster.nodes.some((n) => n.logged("the namespace document was missing from the cluster store (Redis restarted empty?); wrote back this node's copy").length > 0),
      'a node wrote the namespace back',
    );

    // Management works again, with the same root key, and the change reaches every node.
    const created = await cluster.manage(b, ['hyco', 'create', '-n', 'after-outage']);
    assert.equal(created.code, 0, created.stderr);
    const managementBackMs = Date.now() - restartedAt;
    const late = await ExchangeListener.open('after-outage-a', cluster.connectionString(a.url, 'after-outage'));
    listeners.push(late);

    // Both listeners are routable from every node: the one from before the outage, and the one that connected during it.
    for (const node of [a, b, c]) {
      assert.equal((await quickExchange(node, 60, { allowedListeners: ['outage-c'] })).atListener.listener, 'outage-c', `node ${node.id} → listener on node C`);
      assert.equal((await quickExchange(node, 70, { allowedListeners: ['outage-a'] })).atListener.listener, 'outage-a', `node ${node.id} → listener on node A`);
    }

    // The established connection never noticed.
    assert.deepEqual(await established.done, expected(16 * MiB, 21), 'established connection: reply');
    const got = await arrival(listeners, established.trackingId, 10_000);
    assert.equal(got.sha256, sha256(upload), 'established connection: upload');
    console.log(
      `Redis outage of ${restartedAt - stoppedAt} ms: cross-node sender refused with 503 in ${wsRefusedMs} ms; ` +
        `after the restart: cross-node routing back in ${routingBackMs} ms, management in ${managementBackMs} ms`,
    );
  });

  test('a node that cannot reach Redis at start exits 1 with one clear line', async () => {
    const deadPort = await freePort();
    const port = await freePort();
    const proc = spawnHybridge(['server', '--port', String(port), '--redis', `redis://127.0.0.1:${deadPort}`, '--node-id', 'lonely', '--public-url', `ws://127.0.0.1:${port}`], { env: cleanEnv() });
    assert.equal(await waitExit(proc, 20_000), 1);
    assert.equal(oneLine(proc.output()), `hybridge: cannot reach Redis at redis://127.0.0.1:${deadPort}: connect ECONNREFUSED 127.0.0.1:${deadPort}`);
  });
});
