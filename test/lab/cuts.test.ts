/**
 * The lab's cuts: a link that drops everything for a while, and a node unplugged without closing
 * its sockets. Both must block traffic silently (no reset, no error at the ends) and give the same
 * connections back once restored.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Lab, PingSession, threeSites, type LabNode } from '../../lab/index.js';
import { skipLab } from './helpers.js';

async function established(node: LabNode, peer: string): Promise<boolean> {
  return (await node.tcpSockets()).some((s) => s.state === 'ESTAB' && (s.peer.startsWith(`${peer}:`) || s.local.startsWith(`${peer}:`)));
}

describe('network-fault lab: cuts', { skip: skipLab }, () => {
  const labs: Lab[] = [];
  after(() => Promise.all(labs.map((l) => l.destroy())));

  test('a cut link drops everything both ways while both ends keep their sockets; restore() and cutFor() give the same connection back', async (t) => {
    const lab = await Lab.create(threeSites({ clientRelay: { delayMs: 2 }, relayService: { delayMs: 2 } }));
    labs.push(lab);
    const [client, service] = [lab.node('client'), lab.node('service')];
    const link = lab.link('client', 'relay');
    const session = await PingSession.open(client, service);
    try {
      assert.ok((await session.ping(3000)) !== undefined, 'the path works before the cut');
      await link.cut();
      assert.equal(link.isCut, true);
      assert.equal(await session.ping(700), undefined, 'no echo crosses a cut link');
      assert.ok(await established(client, service.address), 'the client still holds its connection');
      assert.ok(await established(service, service.address), 'so does the service');
      await link.restore();
      const late = await session.nextPong(5000);
      t.diagnostic(`the byte sent during the cut came back ${late?.toFixed(0)} ms after it was sent (TCP retransmission)`);
      assert.ok(late !== undefined, 'the byte sent during the cut arrives once the link is back');

      const cut = link.cutFor(1000);
      assert.equal(await session.ping(500), undefined, 'cutFor() blocks too');
      const { cutMs } = await cut;
      assert.equal(link.isCut, false);
      assert.ok(cutMs >= 1000 && cutMs < 1500, `cut for ${cutMs} ms`);
      assert.ok((await session.nextPong(5000)) !== undefined, 'and gives the connection back');
      assert.ok((await session.ping(3000)) !== undefined);
    } finally {
      await session.close();
    }
  });

  test('an unplugged node: nothing reaches it or leaves it, every socket through it or on it stays open, plug() brings them back', async () => {
    const lab = await Lab.create(threeSites());
    labs.push(lab);
    const [client, relay, service] = [lab.node('client'), lab.node('relay'), lab.node('service')];
    const through = await PingSession.open(client, service);
    const onRelay = await PingSession.open(relay, service);
    try {
      await relay.unplug();
      assert.equal(relay.unplugged, true);
      const [a, b] = await Promise.all([through.ping(700), onRelay.ping(700)]);
      assert.deepEqual([a, b], [undefined, undefined], 'neither a routed connection nor the node\'s own gets through');
      assert.ok(await established(client, service.address), 'the client keeps its connection');
      assert.ok(await established(relay, service.address), 'the unplugged node keeps its own, with no error on its side');
      await relay.plug();
      const [lateA, lateB] = await Promise.all([through.nextPong(5000), onRelay.nextPong(5000)]);
      assert.ok(lateA !== undefined && lateB !== undefined, 'both connections carry data again');
    } finally {
      await Promise.all([through.close(), onRelay.close()]);
    }
  });
});
