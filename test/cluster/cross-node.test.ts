/**
 * Routing across relay nodes: a listener on node A and a sender on node B exchange 32 MiB each way
 * with half-close; HTTP requests sent to node B reach the listener on node A; in both cases the
 * rendezvous happens on the sender's node, so node A relays no byte (checked in the nodes' logs).
 * 30 connections from senders on all three nodes spread evenly over listeners on all three nodes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { patternBytes, sha256 } from '../helpers/data.js';
import { startCluster, type Cluster, type ClusterNode } from './cluster-kit.js';
import { checkedExchange, endClusterSuite, ExchangeListener, expected, HTTP_RESPONSE_SEED, runExchange, sendHttp } from './peers.js';
import { KiB, MiB } from './streams.js';

describe('relay cluster: cross-node routing', () => {
  let cluster: Cluster;
  let a: ClusterNode, b: ClusterNode, c: ClusterNode;
  const listeners: ExchangeListener[] = [];

  before(async () => {
    cluster = await startCluster({ hycos: ['pipe', 'web', 'spread'] });
    [a, b, c] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode];
  });
  after(() => endClusterSuite(cluster, listeners));

  const listen = async (id: string, node: ClusterNode, entity: string) => {
    const l = await ExchangeListener.open(id, cluster.connectionString(node.url, entity));
    listeners.push(l);
    return l;
  };

  test('the nodes share one namespace: exactly one of them created it', () => {
    const creators = cluster.nodes.filter((n) => /Created a new namespace in Redis/.test(n.proc.output()));
    assert.equal(creators.length, 1, `nodes that printed the root connection string: ${creators.map((n) => n.id).join(', ')}`);
  });

  test('listener on node A, sender on node B: 32 MiB each way with half-close, rendezvous on node B', async () => {
    const listener = await listen('pipe-a', a, 'pipe');
    const upload = patternBytes(32 * MiB, 1);
    const result = await runExchange(cluster.connectionString(b.url, 'pipe'), [listener], { upload, replyBytes: 32 * MiB, replySeed: 2, timeoutMs: 60_000 });

    assert.deepEqual(result.reply, expected(32 * MiB, 2), 'reply bytes at the sender (length, SHA-256)');
    assert.equal(result.atListener.length, upload.length, 'upload length at the listener');
    assert.equal(result.atListener.sha256, sha256(upload), 'upload SHA-256 at the listener');

    const onB = await b.waitForLog('connection ended', 5000, (r) => r.trackingId === result.trackingId);
    assert.equal(onB[0]!.bytesToListener, 32 * MiB, 'node B relayed the upload');
    assert.equal(onB[0]!.bytesToSender, 32 * MiB, 'node B relayed the reply');
    assert.equal(a.logged('connection ended').length, 0, 'node A relayed no connection (0 bytes)');
    assert.equal(c.logged('connection ended').length, 0, 'node C relayed no connection');
    assert.equal(a.logged('listener online').filter((r) => r.listenerId === 'pipe-a').length, 1, "the listener's control channel is on node A");
  });

  test('HTTP requests sent to node B reach the listener on node A and return intact (1 KiB and 2 MB)', async () => {
    await listen('web-a', a, 'web');
    const token = cluster.token('web');
    const cases = [
      { name: 'inline-sized', body: patternBytes(KiB, 3), responseSize: KiB },
      { name: '2 MB', body: patternBytes(2_000_000, 4), responseSize: 2_000_000 },
    ];
    for (const { name, body, responseSize } of cases) {
      const reply = await sendHttp(`${b.httpUrl}/web/path?q=${encodeURIComponent(name)}`, token, { body, responseSize });
      assert.equal(reply.status, 200, `${name}: status`);
      assert.equal(reply.headers.get('x-listener-id'), 'web-a', `${name}: answered by the listener on node A`);
      assert.equal(reply.headers.get('x-request-length'), String(body.length), `${name}: request length at the listener`);
      assert.equal(reply.headers.get('x-request-sha256'), sha256(body), `${name}: request SHA-256 at the listener`);
      assert.equal(reply.body.length, responseSize, `${name}: response length`);
      assert.equal(sha256(reply.body), sha256(patternBytes(responseSize, HTTP_RESPONSE_SEED)), `${name}: response SHA-256`);
    }
    const relayed = await b.waitForLog('http request relayed', 5000, (r) => r.hyco === 'web' && r.outcome === 'ok', 2);
    assert.deepEqual(
      relayed.map((r) => r.responseBytes),
      [KiB, 2_000_000],
      'node B carried both responses',
    );
    assert.equal(a.logged('http request relayed').length, 0, 'node A relayed no request byte: the listener came to node B over a request rendezvous');
  });

  test('30 connections from senders on all three nodes spread evenly over listeners on all three nodes', async () => {
    const spread = [await listen('spread-a', a, 'spread'), await listen('spread-b', b, 'spread'), await listen('spread-c', c, 'spread')];
    const perListener = new Map<string, number>();
    for (let i = 0; i < 30; i++) {
      const node = cluster.nodes[i % 3]!;
      const result = await checkedExchange(cluster.connectionString(node.url, 'spread'), spread, { bytes: 16 * KiB, uploadSeed: 100 + i, replySeed: 200 + i, what: `connection ${i}` });
      perListener.set(result.atListener.listener, (perListener.get(result.atListener.listener) ?? 0) + 1);
    }
    const shares = Object.fromEntries([...perListener].sort());
    for (const l of spread) assert.ok((perListener.get(l.id) ?? 0) >= 8, `each listener takes at least 25 % of 30 connections: ${JSON.stringify(shares)}`);
    console.log(`spread over listeners on nodes a, b, c: ${JSON.stringify(shares)}`);
  });
});
