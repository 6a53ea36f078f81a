/**
 * The listener's life: open() twice, open() again after a failed open(), close() while the first
 * connect is under way, close() while start() keeps retrying, acceptConnection() after close(),
 * accepted connections outliving close(), and keep-alive pings that notice a silent relay.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EndpointNotFoundError } from '../../src/client/index.js';
import { delay, freePort, waitFor, withTimeout } from '../helpers/async.js';
import { patternBytes } from '../helpers/data.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { assertDelivered, Cleanup, clientFor, count, listenerFor, nextConnection, recordEvents } from './fixtures.js';

describe('listener lifecycle', () => {
  const cleanup = new Cleanup();
  let relay: TestRelay;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  before(async () => {
    process.on('unhandledRejection', onUnhandled);
    relay = cleanup.add(await startRelay({ hybridConnections: ['life'] }), (r) => r.stop());
  });
  after(async () => {
    await cleanup.run();
    process.off('unhandledRejection', onUnhandled);
  });

  it('open() twice is an error; start() on an open listener does nothing', async () => {
    const listener = cleanup.listener(listenerFor(relay, 'life'));
    await listener.open();
    await assert.rejects(listener.open(), /already started/);
    listener.start();
    assert.equal(listener.isOnline, true);
  });

  it('after a failed open() the same listener can open() again', async () => {
    const listener = cleanup.listener(listenerFor(relay, 'later'));
    await assert.rejects(listener.open(), EndpointNotFoundError);
    await relay.server.store.createHybridConnection('later', {});
    await listener.open();
    assert.equal(listener.isOnline, true);
  });

  it('close() while open() or start() is still connecting settles cleanly, leaves nothing registered and nothing unhandled', async () => {
    for (let i = 0; i < 6; i++) {
      const listener = listenerFor(relay, 'life');
      listener.on('error', () => undefined);
      const opening = i % 2 === 0 ? listener.open().catch((err: Error) => err) : (listener.start(), Promise.resolve());
      await delay(i);
      await withTimeout(listener.close(), 5000, 'close while connecting');
      await withTimeout(opening, 5000, 'open settles');
      assert.equal(listener.isOnline, false);
    }
    await delay(100);
    assert.deepEqual(unhandled, []);
    await waitFor(() => relay.server.registry.count('life') <= 1, 5000, 'no leftover control channels');
  });

  it('close() stops a listener that keeps retrying an unreachable relay, and it says offline', async () => {
    const port = await freePort();
    const listener = listenerFor(relay, 'life', { connectionString: undefined, endpoint: `ws://127.0.0.1:${port}`, entityPath: 'life', keyName: 'k', key: 'v', reconnectDelaysMs: [0, 100] });
    const events = recordEvents(listener);
    listener.start();
    await waitFor(() => count(events, 'error') >= 2, 5000, 'a few failed attempts');
    assert.match(events.find((e) => e.event === 'error')!.error!.message, /cannot reach the relay/);
    await withTimeout(listener.close(), 2000, 'close');
    assert.equal(count(events, 'offline'), 1);
    assert.equal(count(events, 'online'), 0);
  });

  it('acceptConnection() waiting at close() resolves undefined; accepted connections outlive close()', async () => {
    const listener = listenerFor(relay, 'life');
    await listener.open();
    const sender = cleanup.stream(await clientFor(relay, 'life').createConnection({ retryBudgetMs: 5000, allowedListeners: [listener.listenerId] }));
    const accepted = cleanup.stream(await nextConnection(listener));
    const waiting = listener.acceptConnection();
    await withTimeout(listener.close(), 5000, 'close');
    assert.equal(await withTimeout(waiting, 1000, 'pending accept'), undefined);
    assert.equal(await listener.acceptConnection(), undefined);

    const payload = patternBytes(2 * 1024 * 1024, 9);
    await assertDelivered(sender, accepted, payload);
  });

  it('keep-alive: when the relay stops answering pings the listener drops the channel and reconnects', async () => {
    const listener = cleanup.listener(listenerFor(relay, 'life', { keepAliveIntervalMs: 200, keepAliveTimeoutMs: 400, reconnectDelaysMs: [0, 100] }));
    const events = recordEvents(listener);
    await listener.open();
    const channel = relay.server.registry.channels('life').find((c) => c.listenerId === listener.listenerId);
    assert.ok(channel);
    // Let pings flow for a while: answered pings keep the channel.
    await delay(700);
    assert.equal(count(events, 'error'), 0);
    // The relay stops reading that socket: no more pongs.
    channel.conn.socket.pause();
    await waitFor(() => events.some((e) => e.event === 'error' && /no answer to pings/.test(e.error?.message ?? '')), 5000, 'dead channel noticed');
    await waitFor(() => count(events, 'online') === 2, 5000, 'back online');
    channel.conn.destroy();
  });
});
