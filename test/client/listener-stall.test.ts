/**
 * Stall detection on the listener's control channel: a ping unanswered for stallTimeoutMs opens a
 * second control channel beside the first (which keeps working meanwhile); the second takes over
 * and the first is closed. One stall opens one extra channel, and a channel that answers opens none.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { delay, waitFor } from '../helpers/async.js';
import { patternBytes } from '../helpers/data.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { assertDelivered, Cleanup, clientFor, count, listenerFor, nextConnection, recordEvents } from './fixtures.js';

describe('listener stall detection', () => {
  const cleanup = new Cleanup();
  let relay: TestRelay;
  before(async () => {
    relay = cleanup.add(await startRelay({ hybridConnections: ['stall'] }), (r) => r.stop());
  });
  after(() => cleanup.run());

  it('a control channel that stops answering gets a second one beside it, which takes over; nothing more on a healthy channel', async () => {
    const listener = cleanup.listener(listenerFor(relay, 'stall', { stallProbeIntervalMs: 100, stallTimeoutMs: 300 }));
    const events = recordEvents(listener);
    await listener.open();
    const channels = () => relay.server.registry.channels('stall').filter((c) => c.listenerId === listener.listenerId);
    const [first] = channels();
    assert.ok(first);
    // Pings every 100 ms, answered: no stall, no extra channel.
    await delay(800);
    assert.equal(count(events, 'stalled'), 0);
    assert.equal(channels().length, 1);

    // The relay stops reading the first channel: its pongs stop (the socket stays open, like a cut).
    first.conn.socket.pause();
    await waitFor(() => channels().length === 2, 5000, 'a second control channel beside the first');
    await waitFor(() => count(events, 'online') === 2, 5000, 'the second took over');
    assert.equal(count(events, 'stalled'), 1);
    assert.ok(!events.some((e) => e.event === 'error' && /no answer to pings/.test(e.error?.message ?? '')), 'the first was not given up as dead: the keep-alive timeout is 30 s');

    // Once the first is read again it sees the listener's Close and goes; one channel remains.
    first.conn.socket.resume();
    await waitFor(() => channels().length === 1 && channels()[0] !== first, 8000, 'the first channel closed');
    const sender = clientFor(relay, 'stall');
    const accepted = nextConnection(listener);
    const stream = await sender.createConnection();
    await assertDelivered(stream, await accepted, patternBytes(64 * 1024, 3));
    await delay(500);
    assert.equal(count(events, 'stalled'), 1, 'the new channel answers: no further stall');
  });
});
