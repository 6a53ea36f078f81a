/**
 * A relay node drained with SIGTERM (`--drain-timeout 10s`): live connections through it that
 * finish within the grace period are not cut (32 MiB sent slowly over ~3 s after the signal), new
 * connections go to the other nodes, its listeners reconnect elsewhere through the balancer, and
 * it exits 0 as soon as its last connection is done.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { HybridConnectionClient } from '../../src/client/index.js';
import { delay, waitFor, withTimeout } from '../helpers/async.js';
import { patternBytes } from '../helpers/data.js';
import { nodeWithListener, startCluster, type Cluster, type ClusterNode } from './cluster-kit.js';
import { checkedExchange, checkFinished, endClusterSuite, ExchangeListener, openThroughBalancer, startExchange, type Exchange } from './peers.js';
import { KiB, MiB } from './streams.js';

describe('relay cluster: a node is drained', () => {
  let cluster: Cluster;
  let a: ClusterNode, b: ClusterNode, c: ClusterNode;
  const listeners: ExchangeListener[] = [];

  before(async () => {
    cluster = await startCluster({ hycos: ['drain'], drainTimeout: '10s' });
    [a, b, c] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode];
  });
  after(() => endClusterSuite(cluster, listeners));

  test('SIGTERM: live transfers finish, new work goes elsewhere, listeners move, exit 0', async () => {
    const homes = await openThroughBalancer(cluster, 'drain', ['dr-1', 'dr-2', 'dr-3'], listeners);
    const onA = listeners.find((l) => homes.get(l.id) === a)!;
    const onB = listeners.find((l) => homes.get(l.id) === b)!;
    assert.ok(onA && onB, 'listeners on nodes a and b');

    // Two live connections relayed by node B: to the listener on node A, and to the one on node B itself.
    const live: { exchange: Exchange; upload: Buffer; seed: number }[] = [];
    for (const [to, seed] of [[onA, 10], [onB, 20]] as const) {
      const upload = patternBytes(32 * MiB, seed);
      const exchange = await startExchange(cluster.connectionString(b.url, 'drain'), { upload, replyBytes: MiB, replySeed: seed + 1, uploadMs: 3000, replyMs: 3000, allowedListeners: [to.id] });
      live.push({ exchange, upload, seed });
    }
    await delay(200);
    const termAt = Date.now();
    b.proc.child.kill('SIGTERM');
    const exitedAt = b.proc.exited.then((code) => ({ code, at: Date.now() }));
    await b.waitForLog('shutting down', 2000);

    // New connections: refused by node B at once (503), taken by the other nodes through the balancer.
    const refusedStart = Date.now();
    await assert.rejects(new HybridConnectionClient(cluster.connectionString(b.url, 'drain')).createConnection({ retryBudgetMs: 0 }), (err: Error & { statusCode?: number }) => err.statusCode === 503);
    const refusedMs = Date.now() - refusedStart;
    const health = await fetch(`${b.httpUrl}/$hybridge/health`, { signal: AbortSignal.timeout(5000) });
    assert.equal(health.status, 503, 'health check says draining');
    assert.equal(((await health.json()) as { status: string }).status, 'draining');

    const viaBalancer: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await checkedExchange(cluster.connectionString(cluster.balancer.url, 'drain'), listeners, { bytes: 32 * KiB, uploadSeed: 100 + i, replySeed: 200 + i, retryBudgetMs: 5000, timeoutMs: 10_000, what: `new connection ${i}` });
      viaBalancer.push(r.trackingId);
    }
    await waitFor(() => viaBalancer.every((id) => [a, c].some((n) => n.logged('connection ended').some((r) => r.trackingId === id))), 5000, 'new connections relayed by nodes a and c');

    // The listener that was on node B reconnected to another node.
    await waitFor(() => onB.onlineCount >= 2 && onB.isOnline, 10_000, 'listener of node B back online');
    const movedAfterMs = onB.onlineAt[1]! - termAt;
    const newHome = nodeWithListener([a, c], onB.id);
    assert.ok(newHome, 'it moved to node a or c');

    // The live transfers were not cut.
    let lastClosedAt = 0;
    const doneAt = await Promise.all(live.map(({ exchange }) => exchange.done.then(() => Date.now())));
    for (const { exchange, upload, seed } of live) {
      await checkFinished(listeners, exchange, upload, { bytes: MiB, seed: seed + 1 }, `live transfer ${seed}`);
      const closed = await b.waitForLog('connection ended', 5000, (r) => r.trackingId === exchange.trackingId);
      assert.equal(closed[0]!.bytesToListener, 32 * MiB, `live transfer ${seed} relayed by node B in full`);
      lastClosedAt = Math.max(lastClosedAt, Number(closed[0]!.time));
    }
    const transfersDoneMs = Math.max(...doneAt) - termAt;

    const exit = await withTimeout(exitedAt, 12_000, 'node B exit');
    assert.equal(exit.code, 0, 'node B exits 0');
    const exitMs = exit.at - termAt;
    assert.ok(exit.at >= lastClosedAt, 'node B exited only after its live connections were done');
    assert.ok(exitMs < 10_000, `node B exited once its connections were done, before the 10 s grace ran out (${exitMs} ms)`);
    console.log(
      `drain of node B: new connection refused with 503 in ${refusedMs} ms; its listener moved to ${newHome!.id} ${movedAfterMs} ms after SIGTERM; ` +
        `live 32 MiB transfers done at the senders ${transfersDoneMs} ms and closed on node B ${lastClosedAt - termAt} ms after SIGTERM; node exited 0 after ${exitMs} ms`,
    );
  });
});
