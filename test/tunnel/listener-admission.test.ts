/**
 * What a relay-listener does with connections before they say what they want: a first message over
 * the limit is refused at once (close 1009) instead of sitting unread until the first-message
 * timeout, and every connection counts against --max-connections from accept on, whichever peer
 * protocol it turns out to speak.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { HybridConnectionStream } from '../../src/client/index.js';
import { withTimeout } from '../helpers/async.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { ACCEPTED, askListener, AT_CAPACITY, aztunnelEnvelope, rawClient, startInProcessListener, type InProcessListener } from './listener-fixture.js';
import { echoServer, KiB, type TestServer } from './tunnel-kit.js';

const HYCOS = ['la-big', 'la-count', 'la-azbridge'];

describe('relay-listener admission (in process, real relay)', () => {
  let relay: TestRelay;
  let echo: TestServer;
  const listeners: InProcessListener[] = [];
  const streams: HybridConnectionStream[] = [];

  before(async () => {
    relay = await startRelay({ hybridConnections: HYCOS });
    echo = await echoServer();
  });
  after(async () => {
    for (const s of streams) s.destroy();
    await Promise.all(listeners.map((l) => l.stop()));
    await echo?.close();
    await relay?.stop();
  });

  async function listen(hyco: string, maxConnections = 0): Promise<void> {
    listeners.push(await startInProcessListener(relay, hyco, { maxConnections, firstMessageTimeoutMs: 30_000 }));
  }

  async function open(hyco: string): Promise<HybridConnectionStream> {
    const stream = await rawClient(relay, hyco).createConnection({ retryBudgetMs: 5000 });
    stream.on('error', () => undefined);
    streams.push(stream);
    return stream;
  }

  it('a first message over 256 KiB is refused with 1009 at once, not after the 30 s first-message timeout', async () => {
    await listen('la-big');
    for (const binary of [false, true]) {
      const stream = await open('la-big');
      const closed = new Promise((resolve) => stream.once('close', resolve));
      const big = Buffer.alloc(300 * KiB, 0x7b);
      stream.sendMessage(binary ? big : big.toString('latin1')).catch(() => undefined);
      await withTimeout(closed, 5000, 'the listener closing the connection');
      assert.equal(stream.closeCode, 1009, binary ? 'binary first message' : 'text first message');
    }
    const { text } = await askListener(rawClient(relay, 'la-big'), aztunnelEnvelope(`127.0.0.1:${echo.port}`));
    assert.equal(text, ACCEPTED, 'the listener goes on serving');
  });

  it('a connection that has sent nothing yet holds a --max-connections slot', async () => {
    await listen('la-count', 1);
    const silent = await open('la-count');
    const refused = await askListener(rawClient(relay, 'la-count'), aztunnelEnvelope(`127.0.0.1:${echo.port}`));
    streams.push(refused.stream);
    assert.equal(refused.text, AT_CAPACITY, 'the silent connection took the only slot');
    silent.destroy();
    await new Promise((resolve) => silent.once('close', resolve));
    const deadline = Date.now() + 5000;
    let text = '';
    while (Date.now() < deadline) {
      const again = await askListener(rawClient(relay, 'la-count'), aztunnelEnvelope(`127.0.0.1:${echo.port}`));
      streams.push(again.stream);
      text = again.text;
      if (text === ACCEPTED) break;
      again.stream.destroy();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(text, ACCEPTED, 'the slot came back when the silent connection closed');
  });

  it('an azbridge-style sender beyond the limit gets 00 00 FD "listener at capacity"', async () => {
    await listen('la-azbridge', 1);
    await open('la-azbridge');
    const { binary, data } = await askListener(rawClient(relay, 'la-azbridge'), Buffer.from([1, 0, 0, 2, 0x64, 0x62]));
    assert.equal(binary, true);
    assert.deepEqual([...data.subarray(0, 3)], [0, 0, 0xfd]);
    assert.match(data.subarray(4, 4 + data[3]!).toString(), /^listener at capacity \(--max-connections 1\)$/);
  });
});
