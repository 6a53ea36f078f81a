/**
 * Abrupt disconnects in the middle of a 16 MiB transfer (protocol reference §3.4): when one peer's
 * socket dies, the other sees Close 1001 or the end of its connection, the relay forgets the pair,
 * and a healthy connection on the same relay never notices.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { delay } from '../helpers/async.js';
import { patternBytes } from '../helpers/data.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { FramePeer, HealthyLink, hcUrl, RawListener } from './protocol-peers.js';

const SIXTEEN_MIB = 16 * 1024 * 1024;

describe('abrupt disconnects mid-transfer', () => {
  let relay: TestRelay;
  let healthy: HealthyLink;

  before(async () => {
    relay = await startRelay({ hybridConnections: ['drop', 'healthy'] });
    healthy = await HealthyLink.start(relay);
  });
  after(async () => {
    await healthy?.close();
    await relay?.stop();
  });

  /** A control channel whose accepted rendezvous sockets are FramePeers, in order. */
  async function frameListener(): Promise<{ control: RawListener; rendezvous: Promise<FramePeer>[] }> {
    const rendezvous: Promise<FramePeer>[] = [];
    const control = await RawListener.open(relay, 'drop', { onAccept: (accept) => rendezvous.push(FramePeer.open(accept.address)) });
    return { control, rendezvous };
  }

  /** A sender and the listener's end of its rendezvous, both FramePeers. */
  async function pair(on?: { control: RawListener; rendezvous: Promise<FramePeer>[] }): Promise<{ sender: FramePeer; listenerSide: FramePeer; control: RawListener }> {
    const { control, rendezvous } = on ?? (await frameListener());
    const before = rendezvous.length;
    const sender = await FramePeer.open(hcUrl(relay, 'drop', 'connect'), { headers: { ServiceBusAuthorization: relay.token('drop') } });
    assert.equal(rendezvous.length, before + 1);
    return { sender, listenerSide: await rendezvous[before]!, control };
  }

  function relayedOn(entity: string): number {
    return [...relay.server.relayedConnections].filter((c) => c.entity === entity).length;
  }

  it('the sender dies while 16 MiB flows to the listener: the listener sees 1001 or the end, the pair is dropped', async () => {
    const { sender, listenerSide, control } = await pair();
    try {
      assert.equal(relayedOn('drop'), 1);
      void sender.sendChunked(patternBytes(SIXTEEN_MIB, 31), 256 * 1024).catch(() => undefined);
      await listenerSide.waitFor(() => listenerSide.bytes >= 1024 * 1024, 'first MiB at the listener');
      // Hold the listener back so the transfer is certainly unfinished when the sender dies.
      listenerSide.conn.pauseReading();
      sender.socket.destroy();
      await delay(100);
      listenerSide.conn.resumeReading();
      await listenerSide.waitFor(() => listenerSide.closed, 'the listener side ends');
      assert.ok(listenerSide.bytes < SIXTEEN_MIB, `only part of the payload arrived (${listenerSide.bytes} bytes)`);
      assert.equal(listenerSide.messages.length, 0, 'the cut message is not delivered as complete');
      assert.ok(listenerSide.peerClose === undefined || listenerSide.peerClose.code === 1001, `close code ${listenerSide.peerClose?.code}`);
      await listenerSide.waitFor(() => relayedOn('drop') === 0, 'the relay forgets the pair');
      assert.equal(control.isOpen, true, "the listener's control channel is unaffected");
    } finally {
      sender.conn.destroy();
      listenerSide.conn.destroy();
      await control.close();
    }
    await healthy.check();
  });

  it('the listener dies while 16 MiB flows to it: the sender sees 1001 or the end, the pair is dropped', async () => {
    const { sender, listenerSide, control } = await pair();
    try {
      void sender.sendChunked(patternBytes(SIXTEEN_MIB, 32), 256 * 1024).catch(() => undefined);
      await listenerSide.waitFor(() => listenerSide.bytes >= 1024 * 1024, 'first MiB at the listener');
      listenerSide.socket.destroy();
      await sender.waitFor(() => sender.closed, 'the sender side ends');
      assert.ok(sender.peerClose === undefined || sender.peerClose.code === 1001, `close code ${sender.peerClose?.code}`);
      assert.equal(sender.peerClose?.code ?? 1001, 1001);
      await sender.waitFor(() => relayedOn('drop') === 0, 'the relay forgets the pair');
      assert.equal(control.isOpen, true);
    } finally {
      sender.conn.destroy();
      listenerSide.conn.destroy();
      await control.close();
    }
    await healthy.check();
  });

  it('the listener dies while it streams 16 MiB to the sender: the sender sees the end, the pair is dropped', async () => {
    const { sender, listenerSide, control } = await pair();
    try {
      void listenerSide.sendChunked(patternBytes(SIXTEEN_MIB, 33), 256 * 1024).catch(() => undefined);
      await sender.waitFor(() => sender.bytes >= 1024 * 1024, 'first MiB at the sender');
      sender.conn.pauseReading();
      listenerSide.socket.destroy();
      await delay(100);
      sender.conn.resumeReading();
      await sender.waitFor(() => sender.closed, 'the sender side ends');
      assert.ok(sender.bytes < SIXTEEN_MIB);
      assert.equal(sender.messages.length, 0);
      assert.ok(sender.peerClose === undefined || sender.peerClose.code === 1001, `close code ${sender.peerClose?.code}`);
      await sender.waitFor(() => relayedOn('drop') === 0, 'the relay forgets the pair');
    } finally {
      sender.conn.destroy();
      listenerSide.conn.destroy();
      await control.close();
    }
    await healthy.check();
  });

  it('many pairs dropped at once from both ends all drain away', async () => {
    const listener = await frameListener();
    const pairs = [];
    for (let i = 0; i < 6; i++) pairs.push(await pair(listener));
    try {
      for (const [i, p] of pairs.entries()) {
        void p.sender.sendChunked(patternBytes(2 * 1024 * 1024, 40 + i), 64 * 1024).catch(() => undefined);
        void p.listenerSide.sendChunked(patternBytes(2 * 1024 * 1024, 50 + i), 64 * 1024).catch(() => undefined);
      }
      await delay(20);
      for (const [i, p] of pairs.entries()) (i % 2 === 0 ? p.sender : p.listenerSide).socket.destroy();
      for (const p of pairs) await p.sender.waitFor(() => p.sender.closed && p.listenerSide.closed, 'both sides end');
      await pairs[0]!.sender.waitFor(() => relayedOn('drop') === 0, 'the relay forgets every pair');
      assert.equal(relay.server.relayedConnections.size, 1, 'only the healthy connection is left');
    } finally {
      for (const p of pairs) {
        p.sender.conn.destroy();
        p.listenerSide.conn.destroy();
      }
      await listener.control.close();
    }
    await healthy.check();
  });
});
