/**
 * Client IP rules in a two-node cluster: the rule set lives in the namespace document in Redis, so
 * a change made through one node is enforced by the other, for new connections and for the
 * connections it already relays, at once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type WebSocket from 'ws';
import { waitFor } from '../helpers/async.js';
import { patternBytes } from '../helpers/data.js';
import { assertBinaryEcho, closedPromise, openSender, startEchoListener, type RawListener, type RelayAddress } from '../relay/protocol-peers.js';
import { startCluster, type Cluster, type ClusterNode } from './cluster-kit.js';

const DENIED = '127.0.0.3';
const ALLOWED = '127.0.0.2';

describe('relay cluster: IP rules set on one node are enforced by the other', () => {
  let cluster: Cluster;
  let a: ClusterNode, b: ClusterNode;
  let listener: RawListener | undefined;
  const open: WebSocket[] = [];
  const address = (node: ClusterNode): RelayAddress => ({ port: node.port, wsBase: node.url, httpBase: node.httpUrl, token: (entity) => cluster.token(entity) });
  const manage = async (node: ClusterNode, args: string[]) => {
    const result = await cluster.manage(node, ['namespace', 'network-rule-set', ...args, '-o', 'none']);
    assert.equal(result.code, 0, `${args.join(' ')} via ${node.id}: ${result.stderr}`);
  };
  /** The status a sender from `localAddress` through `node` gets (0 when it is let in; it is then kept open). */
  const senderStatus = async (node: ClusterNode, localAddress: string): Promise<number> => {
    try {
      open.push(await openSender(address(node), 'web', { localAddress }));
      return 0;
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (status === undefined) throw err;
      return status;
    }
  };

  before(async () => {
    cluster = await startCluster({ hycos: ['web'], nodes: 2 });
    [a, b] = cluster.nodes as [ClusterNode, ClusterNode];
    listener = await startEchoListener(address(b), 'web');
  });
  after(async () => {
    for (const ws of open) ws.terminate();
    listener?.terminate();
    await cluster?.stop();
  });

  test('rules made through node A refuse a client on node B before authentication; allowed clients relay data', async () => {
    await manage(a, ['ip-rule', 'add', '--ip-address', '127.0.0.0/8']);
    await manage(a, ['ip-rule', 'add', '--ip-address', DENIED, '--action', 'Deny', '--position', '1']);
    await manage(a, ['update', '--default-action', 'Deny']);

    await waitFor(async () => (await senderStatus(b, DENIED)) === 403, 10_000, `node ${b.id} refusing ${DENIED}`);
    const [record] = await b.waitForLog('client refused by the IP rules', 5000, (r) => r.remote === DENIED);
    assert.equal(record!.ipRule, 1);
    assert.equal(b.logged('sender refused').length, 0, 'the token was never looked at');

    const sender = await openSender(address(b), 'web', { localAddress: ALLOWED });
    open.push(sender);
    await assertBinaryEcho(sender, patternBytes(128 * 1024, 21));
    // Node A relays to the listener on node B, for an allowed client.
    const viaA = await openSender(address(a), 'web', { localAddress: ALLOWED });
    open.push(viaA);
    await assertBinaryEcho(viaA, patternBytes(128 * 1024, 22));
  });

  test('a rule removed through node B lets the client in on node A', async () => {
    assert.equal(await senderStatus(a, DENIED), 403);
    await manage(b, ['ip-rule', 'remove', '--ip-address', DENIED]);
    await waitFor(async () => (await senderStatus(a, DENIED)) === 0, 10_000, `node ${a.id} admitting ${DENIED}`);
    await assertBinaryEcho(open[open.length - 1]!, patternBytes(64 * 1024, 23));
  });

  test('a rule added through node B cuts a connection node A relays from that address; others keep going', async () => {
    const doomed = await openSender(address(a), 'web', { localAddress: '127.0.0.4' });
    open.push(doomed);
    await assertBinaryEcho(doomed, patternBytes(32 * 1024, 24));
    const survivor = open[open.length - 2]!;
    const closed = closedPromise(doomed);
    await manage(b, ['ip-rule', 'add', '--ip-address', '127.0.0.4', '--action', 'Deny', '--position', '1']);
    assert.deepEqual(await closed, { code: 1008, reason: 'the client address is no longer allowed by the IP rules' });
    await a.waitForLog('IP rules changed; connections from addresses they now refuse were closed', 5000, (r) => r.closed === 1);
    await assertBinaryEcho(survivor, patternBytes(64 * 1024, 25));
  });
});
