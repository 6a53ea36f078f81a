/**
 * Liveness (protocol reference §2.5, §8.10): the relay pings control channels and relayed
 * connections; peers that answer (or send unsolicited pongs, as hyco-https does) stay connected
 * however idle they are, and peers that stop answering are dropped and their slots freed.
 * The relay runs with a 200 ms ping interval so this takes seconds, not minutes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { delay } from '../helpers/async.js';
import { patternBytes } from '../helpers/data.js';
import type { TestRelay } from '../helpers/relay.js';
import { assertBinaryEcho, FramePeer, hcUrl, openSender, relayedOn, startEchoListener, startRelayWithHealthyLink, stopRelayWithHealthyLink, WAIT_MS, withFrameListenerPair, type HealthyLink } from './protocol-peers.js';

describe('keep-alive on control channels and relayed connections', () => {
  let relay: TestRelay;
  let healthy: HealthyLink;

  before(async () => ({ relay, healthy } = await startRelayWithHealthyLink({ hybridConnections: ['ka', 'healthy'], pingIntervalMs: 200, pingTimeoutMs: 600 })));
  after(() => stopRelayWithHealthyLink(relay, healthy));

  it('keeps idle peers that answer pings, and accepts unsolicited pongs', async () => {
    const listener = await startEchoListener(relay, 'ka');
    const sender = await openSender(relay, 'ka');
    try {
      const pongTimer = setInterval(() => listener.ws.pong(), 100);
      try {
        await delay(1500);
      } finally {
        clearInterval(pongTimer);
      }
      assert.equal(listener.isOpen, true);
      await assertBinaryEcho(sender, patternBytes(100_000, 1));
      await healthy.check();
    } finally {
      sender.terminate();
      await listener.close();
    }
  });

  it('drops a control channel that stops answering pings and frees its slot', async () => {
    const peer = await FramePeer.open(hcUrl(relay, 'ka', 'listen'), { headers: { ServiceBusAuthorization: relay.token('ka') } });
    try {
      assert.equal(relay.server.registry.count('ka'), 1);
      peer.conn.pauseReading();
      const started = Date.now();
      await peer.waitFor(() => relay.server.registry.count('ka') === 0, 'the silent listener is dropped', WAIT_MS);
      assert.ok(Date.now() - started >= 500, `dropped after ${Date.now() - started} ms`);
    } finally {
      peer.conn.destroy();
    }
    await healthy.check();
  });

  it('drops a relayed connection whose peers both stopped answering', async () => {
    await withFrameListenerPair(relay, 'ka', async ({ sender, listenerSide, control }) => {
      assert.equal(relayedOn(relay, 'ka'), 1);
      sender.conn.pauseReading();
      listenerSide.conn.pauseReading();
      await sender.waitFor(() => relayedOn(relay, 'ka') === 0, 'the dead pair is dropped', WAIT_MS);
      assert.equal(control.isOpen, true);
    });
    await healthy.check();
  });

  it('drops a relayed connection whose listener went silent even while the sender keeps answering', async () => {
    await withFrameListenerPair(relay, 'ka', async ({ sender, listenerSide }) => {
      // The listener's host "vanishes": it neither reads nor answers, but sends no FIN either.
      listenerSide.conn.pauseReading();
      await sender.waitFor(() => relayedOn(relay, 'ka') === 0, 'the half-dead pair is dropped', WAIT_MS);
      await sender.waitFor(() => sender.closed, 'the sender learns its listener is gone');
    });
    await healthy.check();
  });

  it('keeps a half-closed connection whose sender only reads (a closed direction owes no pongs)', async () => {
    await withFrameListenerPair(relay, 'ka', async ({ sender, listenerSide }) => {
      sender.conn.close(1000, 'Shutdown');
      await listenerSide.waitFor(() => listenerSide.peerClose, 'the Close arrives');
      // Well beyond three ping intervals, the listener trickles data to the silent, half-closed sender.
      for (let i = 0; i < 12; i++) {
        listenerSide.conn.sendBinary(patternBytes(1000, 80 + i));
        await delay(120);
      }
      await sender.waitFor(() => sender.messages.length === 12, 'every message reaches the half-closed sender');
      assert.equal(sender.closed, undefined, 'the relay did not drop the connection');
      listenerSide.conn.close(1000);
      await sender.waitFor(() => sender.closed && listenerSide.closed, 'both sockets end');
    });
    await healthy.check();
  });
});
