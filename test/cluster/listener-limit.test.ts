/**
 * `--max-listeners 2` holds for the cluster, not per node: with one listener on node A and one on
 * node B, a third on node C is refused (403 QuotaExceeded); when one leaves, exactly one of two
 * listeners racing for the freed slot from different nodes keeps it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { delay, waitFor } from '../helpers/async.js';
import { startCluster, type Cluster, type ClusterNode } from './cluster-kit.js';
import { checkedExchange, endClusterSuite, ExchangeListener } from './peers.js';
import { KiB } from './streams.js';

describe('relay cluster: the listener limit holds cluster-wide', () => {
  let cluster: Cluster;
  let a: ClusterNode, b: ClusterNode, c: ClusterNode;
  const listeners: ExchangeListener[] = [];

  before(async () => {
    cluster = await startCluster({ hycos: ['limited'], maxListeners: 2 });
    [a, b, c] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode];
  });
  after(() => endClusterSuite(cluster, listeners));

  /** Opens a listener on `node`; resolves with it, or with the error that refused it. */
  const tryListen = async (id: string, node: ClusterNode): Promise<ExchangeListener | Error> => {
    const peer = new ExchangeListener(id, cluster.connectionString(node.url, 'limited'));
    listeners.push(peer);
    try {
      await peer.listener.open();
      return peer;
    } catch (err) {
      return err as Error;
    }
  };
  const listenerCount = (node: ClusterNode) => cluster.listenerCount(node, 'limited');

  test('two listeners on nodes A and B fill the quota; a third on node C gets 403 QuotaExceeded', async () => {
    const onA = await tryListen('limit-a', a);
    const onB = await tryListen('limit-b', b);
    assert.ok(onA instanceof ExchangeListener, String(onA));
    assert.ok(onB instanceof ExchangeListener, String(onB));
    await waitFor(async () => (await listenerCount(c)) === 2, 5000, 'node C counting both listeners');

    const onC = await tryListen('limit-c', c);
    assert.ok(onC instanceof Error, 'the third listener is refused');
    assert.match(onC.message, /403/);
    assert.match(onC.message, /QuotaExceeded/);
    // The log line comes through node C's stdout, which can arrive after the 403 reached the client.
    const refusals = await c.waitForLog('listener refused', 5000, (r) => r.status === 403);
    assert.ok(refusals.some((r) => r.status === 403), 'node C logged the refusal');

    // Both admitted listeners take connections from a sender on node C.
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const r = await checkedExchange(cluster.connectionString(c.url, 'limited'), [onA, onB], { bytes: 4 * KiB, uploadSeed: 60 + i, replySeed: 70 + i });
      seen.add(r.atListener.listener);
    }
    assert.deepEqual([...seen].sort(), ['limit-a', 'limit-b']);
  });

  test('when a listener leaves, exactly one of two listeners racing from nodes A and C gets the freed slot', async () => {
    const leaving = listeners.find((l) => l.id === 'limit-b')!;
    await leaving.close();
    await waitFor(async () => (await listenerCount(a)) === 1, 5000, 'the cluster counting one listener');

    const racers = await Promise.all([tryListen('race-a', a), tryListen('race-c', c)]);
    // Both pass the quick count check; the registry script admits one. The other is refused with
    // 403, or, when its upgrade was already answered, closed at once with 1008 QuotaExceeded.
    const online = () => racers.filter((r) => r instanceof ExchangeListener && r.isOnline);
    await waitFor(() => online().length === 1, 5000, 'exactly one racer online');
    await delay(500);
    assert.equal(online().length, 1, 'still exactly one racer online');
    const loser = racers.find((r) => !(r instanceof ExchangeListener && r.isOnline))!;
    const why = loser instanceof Error ? loser.message : loser.errors.map((e) => e.message).join('; ');
    assert.match(why, /QuotaExceeded/, 'the loser was told why');
    assert.equal(await listenerCount(b), 2);
  });
});
