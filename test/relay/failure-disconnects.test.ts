/**
 * Abrupt disconnects in the middle of a 16 MiB transfer (protocol reference §3.4): when one peer's
 * socket dies, the other sees Close 1001 or the end of its connection, the relay forgets the pair,
 * and a healthy connection on the same relay never notices.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { delay } from '../helpers/async.js';
import { patternBytes } from '../helpers/data.js';
import type { TestRelay } from '../helpers/relay.js';
import { destroyFramePair, openFrameListener, openFramePair, relayedOn, startRelayWithHealthyLink, stopRelayWithHealthyLink, withFrameListenerPair, type FramePeer, type HealthyLink } from './protocol-peers.js';

const SIXTEEN_MIB = 16 * 1024 * 1024;

describe('abrupt disconnects mid-transfer', () => {
  let relay: TestRelay;
  let healthy: HealthyLink;

  before(async () => ({ relay, healthy } = await startRelayWithHealthyLink({ hybridConnections: ['drop', 'healthy'] })));
  after(() => stopRelayWithHealthyLink(relay, healthy));

  /**
   * `from` streams 16 MiB to `to` (the `side`) and its socket dies after the first MiB, while `to` is
   * held back so the transfer is certainly unfinished: `to` gets only part of it, no complete
   * message, and Close 1001 or just the end; the relay forgets the pair.
   */
  async function dieMidTransfer(from: FramePeer, to: FramePeer, side: string, seed: number): Promise<void> {
    void from.sendChunked(patternBytes(SIXTEEN_MIB, seed), 256 * 1024).catch(() => undefined);
    await to.waitFor(() => to.bytes >= 1024 * 1024, `first MiB at the ${side}`);
    to.conn.pauseReading();
    from.socket.destroy();
    await delay(100);
    to.conn.resumeReading();
    await to.waitFor(() => to.closed, `the ${side} side ends`);
    assert.ok(to.bytes < SIXTEEN_MIB, `only part of the payload arrived (${to.bytes} bytes)`);
    assert.equal(to.messages.length, 0, 'the cut message is not delivered as complete');
    assert.ok(to.peerClose === undefined || to.peerClose.code === 1001, `close code ${to.peerClose?.code}`);
    await to.waitFor(() => relayedOn(relay, 'drop') === 0, 'the relay forgets the pair');
  }

  it('the sender dies while 16 MiB flows to the listener: the listener sees 1001 or the end, the pair is dropped', async () => {
    await withFrameListenerPair(relay, 'drop', async ({ sender, listenerSide, control }) => {
      assert.equal(relayedOn(relay, 'drop'), 1);
      await dieMidTransfer(sender, listenerSide, 'listener', 31);
      assert.equal(control.isOpen, true, "the listener's control channel is unaffected");
    });
    await healthy.check();
  });

  it('the listener dies while 16 MiB flows to it: the sender sees 1001 or the end, the pair is dropped', async () => {
    await withFrameListenerPair(relay, 'drop', async ({ sender, listenerSide, control }) => {
      void sender.sendChunked(patternBytes(SIXTEEN_MIB, 32), 256 * 1024).catch(() => undefined);
      await listenerSide.waitFor(() => listenerSide.bytes >= 1024 * 1024, 'first MiB at the listener');
      listenerSide.socket.destroy();
      await sender.waitFor(() => sender.closed, 'the sender side ends');
      assert.ok(sender.peerClose === undefined || sender.peerClose.code === 1001, `close code ${sender.peerClose?.code}`);
      assert.equal(sender.peerClose?.code ?? 1001, 1001);
      await sender.waitFor(() => relayedOn(relay, 'drop') === 0, 'the relay forgets the pair');
      assert.equal(control.isOpen, true);
    });
    await healthy.check();
  });

  it('the listener dies while it streams 16 MiB to the sender: the sender sees the end, the pair is dropped', async () => {
    await withFrameListenerPair(relay, 'drop', ({ sender, listenerSide }) => dieMidTransfer(listenerSide, sender, 'sender', 33));
    await healthy.check();
  });

  it('many pairs dropped at once from both ends all drain away', async () => {
    const listener = await openFrameListener(relay, 'drop');
    const pairs = [];
    for (let i = 0; i < 6; i++) pairs.push(await openFramePair(listener));
    try {
      for (const [i, p] of pairs.entries()) {
        void p.sender.sendChunked(patternBytes(2 * 1024 * 1024, 40 + i), 64 * 1024).catch(() => undefined);
        void p.listenerSide.sendChunked(patternBytes(2 * 1024 * 1024, 50 + i), 64 * 1024).catch(() => undefined);
      }
      await delay(20);
      for (const [i, p] of pairs.entries()) (i % 2 === 0 ? p.sender : p.listenerSide).socket.destroy();
      for (const p of pairs) await p.sender.waitFor(() => p.sender.closed && p.listenerSide.closed, 'both sides end');
      await pairs[0]!.sender.waitFor(() => relayedOn(relay, 'drop') === 0, 'the relay forgets every pair');
      assert.equal(relay.server.relayedConnections.size, 1, 'only the healthy connection is left');
    } finally {
      for (const p of pairs) destroyFramePair(p);
      await listener.control.close();
    }
    await healthy.check();
  });
});
