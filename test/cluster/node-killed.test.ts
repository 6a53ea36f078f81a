/**
 * A relay node killed (SIGKILL) mid-run. Listeners reach the cluster through one endpoint, a TCP
 * balancer, and so sit on all three nodes. Connections whose rendezvous ran through the surviving
 * nodes carry on intact, including those whose listener's control channel was on the dead node;
 * a connection through the dead node fails at once rather than hanging; the listener that was on
 * it reconnects through the balancer; new connections succeed within 5 s of the kill; the dead
 * node's registry entries are forgotten within five heartbeats (`--cluster-heartbeat 500ms`).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { delay, waitFor, withTimeout } from '../helpers/async.js';
import { patternBytes } from '../helpers/data.js';
import { nodeWithListener, startCluster, type Cluster, type ClusterNode } from './cluster-kit.js';
import { checkedExchange, checkFinished, endClusterSuite, ExchangeListener, openThroughBalancer, startExchange, type Exchange } from './peers.js';
import { KiB, MiB } from './streams.js';

describe('relay cluster: a node is killed', () => {
  let cluster: Cluster;
  let a: ClusterNode, b: ClusterNode, c: ClusterNode;
  const listeners: ExchangeListener[] = [];

  before(async () => {
    // Heartbeat 500 ms: a silent node is forgotten after 2.5 s.
    cluster = await startCluster({ hycos: ['ha'], args: ['--cluster-heartbeat', '500ms'] });
    [a, b, c] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode];
  });
  after(() => endClusterSuite(cluster, listeners));

  test('surviving connections finish intact, listeners move, new connections succeed within 5 s', async () => {
    // Through the balancer (round-robin), the three listeners land on nodes a, b and c.
    const homes = await openThroughBalancer(cluster, 'ha', ['ha-1', 'ha-2', 'ha-3'], listeners);
    assert.deepEqual([...homes.values()].map((n) => n.id).sort(), ['node-a', 'node-b', 'node-c'], 'one listener per node');
    const onC = listeners.find((l) => homes.get(l.id) === c)!;
    const onA = listeners.find((l) => homes.get(l.id) === a)!;
    const onB = listeners.find((l) => homes.get(l.id) === b)!;

    // Long transfers (16 MiB each way over ~4 s): four through the surviving nodes, one through node C.
    const plans: { from: ClusterNode; to: ExchangeListener; seed: number }[] = [
      { from: a, to: onC, seed: 10 },
      { from: b, to: onC, seed: 20 },
      { from: a, to: onB, seed: 30 },
      { from: b, to: onA, seed: 40 },
    ];
    const surviving: { exchange: Exchange; upload: Buffer; seed: number }[] = [];
    for (const plan of plans) {
      const upload = patternBytes(16 * MiB, plan.seed);
      const exchange = await startExchange(cluster.connectionString(plan.from.url, 'ha'), {
        upload,
        replyBytes: 16 * MiB,
        replySeed: plan.seed + 1,
        uploadMs: 4000,
        replyMs: 4000,
        allowedListeners: [plan.to.id],
      });
      surviving.push({ exchange, upload, seed: plan.seed });
    }
    const throughC = await startExchange(cluster.connectionString(c.url, 'ha'), { upload: patternBytes(16 * MiB, 50), replyBytes: 16 * MiB, replySeed: 51, uploadMs: 4000, replyMs: 4000 });
    const throughCOutcome = throughC.done.then(
      () => 'completed',
      () => Date.now(),
    );
    await delay(1000);

    const killedAt = Date.now();
    c.proc.child.kill('SIGKILL');
    await withTimeout(c.proc.exited, 5000, 'node C exit');

    // New connections through the balancer, right after the kill.
    const fresh = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        await checkedExchange(cluster.connectionString(cluster.balancer.url, 'ha'), listeners, { bytes: 64 * KiB, uploadSeed: 300 + i, replySeed: 400 + i, retryBudgetMs: 5000, timeoutMs: 10_000, what: `new connection ${i}` });
        return Date.now() - killedAt;
      }),
    );
    const slowest = Math.max(...fresh);
    assert.ok(slowest < 5000, `all 10 new connections completed within 5 s of the kill (slowest ${slowest} ms)`);

    // The listener that was on node C is back, through the balancer, on a surviving node.
    await waitFor(() => onC.onlineCount >= 2 && onC.isOnline, 10_000, 'listener of node C back online');
    const listenerBackMs = onC.onlineAt[1]! - killedAt;
    const newHome = nodeWithListener([a, b], onC.id);
    assert.ok(newHome, 'it reconnected to node a or b');

    // The dead node's registry entry is forgotten (5 heartbeats, 2.5 s): three listeners remain.
    await waitFor(async () => (await cluster.listenerCount(a, 'ha')) === 3, 10_000, 'cluster listener count back to 3', 100);
    const forgottenMs = Date.now() - killedAt;
    assert.ok(forgottenMs < 5000, `the dead node's listener entry was forgotten within 5 s (${forgottenMs} ms)`);

    // The connection through node C failed promptly; the others finish intact.
    const cOutcome = await withTimeout(throughCOutcome, 5000, 'connection through node C to end');
    assert.notEqual(cOutcome, 'completed', 'the connection through the killed node could not complete');
    for (const { exchange, upload, seed } of surviving) await checkFinished(listeners, exchange, upload, { bytes: 16 * MiB, seed: seed + 1 }, `transfer ${seed}`);

    console.log(
      `after SIGKILL of node C: first new connection ${Math.min(...fresh)} ms, all 10 within ${slowest} ms; ` +
        `its listener back online after ${listenerBackMs} ms (on ${newHome!.id}); connection through node C failed after ${Number(cOutcome) - killedAt} ms; ` +
        `its registry entries gone after ${forgottenMs} ms`,
    );
  });
});
