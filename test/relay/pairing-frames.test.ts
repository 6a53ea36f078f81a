/**
 * What the relay does to a paired WebSocket's frames (protocol reference §3.4, §3.6): each
 * direction's Close passes on its own (half-close, as .NET's Shutdown and azbridge rely on),
 * message boundaries and types are kept, fragments pass as sent, and pings are answered per leg.
 * Both peers are hybridge's own frame layer, so the tests see the wire as it is.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Opcode } from '../../src/protocol/websocket-frame.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import type { TestRelay } from '../helpers/relay.js';
import { openFrameListener, relayedOn, startRelayWithHealthyLink, stopRelayWithHealthyLink, withFramePair, type FrameListener, type FramePeer, type HealthyLink } from './protocol-peers.js';

describe('frame-level pairing', () => {
  let relay: TestRelay;
  let healthy: HealthyLink;
  /** The listener on 'frames'; the one on 'inflight' shares its rendezvous list. */
  let frames: FrameListener;
  const rendezvous: Promise<FramePeer>[] = [];

  before(async () => {
    ({ relay, healthy } = await startRelayWithHealthyLink({ hybridConnections: ['frames', 'inflight', 'healthy'] }));
    frames = await openFrameListener(relay, 'frames', rendezvous);
  });
  after(async () => {
    for (const p of rendezvous) void p.then((peer) => peer.conn.destroy(), () => undefined);
    await frames?.control.close();
    await stopRelayWithHealthyLink(relay, healthy);
  });

  /** Pairs a sender with the 'frames' listener and runs `body`; then destroys both and checks the healthy link. */
  async function withPair(body: (peers: { sender: FramePeer; listener: FramePeer }) => Promise<void>): Promise<void> {
    await withFramePair(frames, ({ sender, listenerSide }) => body({ sender, listener: listenerSide }));
    await healthy.check();
  }

  it('half-close: after the sender closes its direction, the listener still sends 1 MiB that all arrives; then both sockets end', async () => {
    await withPair(async ({ sender, listener }) => {
      const up = patternBytes(300_000, 1);
      await sender.sendChunked(up, 64 * 1024);
      sender.conn.close(1000, 'Shutdown');
      await listener.waitFor(() => listener.peerClose, "the sender's Close reaches the listener");
      assert.deepEqual(listener.peerClose, { code: 1000, reason: 'Shutdown' });
      assert.equal(listener.messages.length, 1);
      assert.equal(listener.messages[0]!.sha256, sha256(up));
      assert.equal(listener.closed, undefined, "the listener's socket stays open");

      // The listener's direction is still open: 1 MiB in four messages, all of which must arrive.
      const down = [0, 1, 2, 3].map((i) => patternBytes(256 * 1024, 10 + i));
      for (const part of down) await listener.sendChunked(part, 32 * 1024);
      await sender.waitFor(() => sender.messages.length === 4, 'all four messages reach the half-closed sender');
      assert.deepEqual(
        sender.messages.map((m) => [m.length, m.sha256]),
        down.map((d) => [d.length, sha256(d)]),
      );
      assert.equal(sender.closed, undefined);

      listener.conn.close(1000, 'done too');
      await sender.waitFor(() => sender.closed && listener.closed, 'both sockets end');
      assert.deepEqual(sender.peerClose, { code: 1000, reason: 'done too' });
      await sender.waitFor(() => relayedOn(relay, 'frames') === 0, 'the relay forgets the pair');
    });
  });

  it('half-close the other way: the listener closes first and the sender keeps sending', async () => {
    await withPair(async ({ sender, listener }) => {
      listener.conn.close(1000, 'no more from me');
      await sender.waitFor(() => sender.peerClose, "the listener's Close reaches the sender");
      assert.equal(sender.peerClose!.code, 1000);
      const up = patternBytes(1024 * 1024, 21);
      await sender.sendChunked(up, 100_000);
      await listener.waitFor(() => listener.messages.length === 1, 'the sender keeps sending');
      assert.equal(listener.messages[0]!.length, up.length);
      assert.equal(listener.messages[0]!.sha256, sha256(up));
      sender.conn.close(1000);
      await sender.waitFor(() => sender.closed && listener.closed, 'both sockets end');
      await sender.waitFor(() => relayedOn(relay, 'frames') === 0, 'the relay forgets the pair');
    });
  });

  it('keeps message boundaries and types: a 3-frame text message arrives as one text message', async () => {
    await withPair(async ({ sender, listener }) => {
      // Text in three frames, with a ping between the fragments (answered by the relay, not forwarded).
      sender.conn.sendFrame(Opcode.Text, Buffer.from('Hello, '), false);
      sender.conn.ping(Buffer.from('mid-message'));
      sender.conn.sendFrame(Opcode.Continuation, Buffer.from('frag'), false);
      sender.conn.sendFrame(Opcode.Continuation, Buffer.from('mented wörld ✓'), true);
      const binaries = [0, 1, 125, 126, 65_535, 65_536, 1_000_000].map((size, i) => patternBytes(size, 30 + i));
      for (const b of binaries) sender.conn.sendBinary(b);
      sender.conn.sendText('');
      sender.conn.sendText('last');
      await listener.waitFor(() => listener.messages.length === 3 + binaries.length, 'every message arrives');
      const [text, ...rest] = listener.messages;
      assert.deepEqual(text, { binary: false, length: Buffer.byteLength('Hello, fragmented wörld ✓'), sha256: sha256(Buffer.from('Hello, fragmented wörld ✓')), text: 'Hello, fragmented wörld ✓', frames: 3 });
      binaries.forEach((b, i) => {
        assert.equal(rest[i]!.binary, true, `message ${i} is binary`);
        assert.equal(rest[i]!.length, b.length);
        assert.equal(rest[i]!.sha256, sha256(b));
      });
      assert.deepEqual(
        rest.slice(binaries.length).map((m) => [m.binary, m.text]),
        [
          [false, ''],
          [false, 'last'],
        ],
      );
      // And back the other way: a fragmented binary message is still one binary message.
      await listener.sendChunked(patternBytes(200_000, 40), 50_000);
      await sender.waitFor(() => sender.messages.length === 1, 'the reply arrives');
      assert.deepEqual([sender.messages[0]!.binary, sender.messages[0]!.length, sender.messages[0]!.frames], [true, 200_000, 4]);
    });
  });

  it('answers pings on each leg itself', async () => {
    await withPair(async ({ sender, listener }) => {
      const pongs: string[] = [];
      const capture = (who: string, peer: FramePeer) => {
        const original = peer.conn.onControlFrame.bind(peer.conn);
        peer.conn.onControlFrame = (opcode, payload) => {
          if (opcode === Opcode.Pong) pongs.push(`${who}:${payload.toString()}`);
          original(opcode, payload);
        };
      };
      capture('sender', sender);
      capture('listener', listener);
      sender.conn.ping(Buffer.from('s1'));
      listener.conn.ping(Buffer.from('l1'));
      await sender.waitFor(() => pongs.length === 2, 'both pongs');
      assert.deepEqual(pongs.sort(), ['listener:l1', 'sender:s1']);
      assert.equal(listener.messages.length + sender.messages.length, 0, 'pings are not relayed as data');
    });
  });

  it('a sender that breaks the framing gets 1002; its listener gets 1001; the pair is dropped', async () => {
    await withPair(async ({ sender, listener }) => {
      // Opcode 0x3 is reserved (masked, empty payload).
      sender.socket.write(Buffer.from([0x83, 0x80, 1, 2, 3, 4]));
      await sender.waitFor(() => sender.peerClose && listener.peerClose, 'both sides hear about it');
      assert.equal(sender.peerClose!.code, 1002);
      assert.equal(listener.peerClose!.code, 1001);
      await sender.waitFor(() => sender.closed && listener.closed && relayedOn(relay, 'frames') === 0, 'both sockets end and the pair is dropped');
    });
  });

  for (const direction of ['sender → listener', 'listener → sender'] as const) {
    it(`deleting the hybrid connection while a 16 MiB frame flows ${direction} still ends both peers with Close 1001`, async () => {
      if (!relay.server.store.getHybridConnection('inflight')) await relay.server.store.createHybridConnection('inflight', {});
      const inflight = await openFrameListener(relay, 'inflight', rendezvous);
      try {
        await withFramePair(inflight, async ({ sender, listenerSide: listener }) => {
          const [from, to] = direction === 'sender → listener' ? [sender, listener] : [listener, sender];
          const big = patternBytes(16 * 1024 * 1024, 60);
          from.conn.sendBinary(big);
          await to.waitFor(() => to.bytes >= 1024 * 1024, 'the frame is under way');
          await relay.server.store.deleteHybridConnection('inflight');
          await sender.waitFor(() => sender.closed && listener.closed, 'both sockets end');
          // The frame under way is finished rather than cut, and only then comes the Close.
          assert.deepEqual([to.messages.length, to.messages[0]?.sha256], [1, sha256(big)]);
          assert.equal(sender.peerClose?.code, 1001, 'the sender gets Close 1001');
          assert.equal(listener.peerClose?.code, 1001, 'the listener gets Close 1001');
          assert.equal((await inflight.control.waitClosed()).code, 1001);
        });
      } finally {
        inflight.control.terminate();
      }
      await healthy.check();
    });
  }
});
