/**
 * HybridConnectionStream semantics: whole messages with readMessage()/sendMessage() before the
 * first byte read (types preserved), then bytes; backpressure from a paused reader bounds the
 * writer's memory; destroy() on one side is an error (ConnectionLostError) on the other, not a
 * clean end.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConnectionLostError, RelayTimeoutError, type HybridConnectionListener, type HybridConnectionStream } from '../../src/client/index.js';
import { delay, withTimeout } from '../helpers/async.js';
import { Digest, patternBytes, sha256 } from '../helpers/data.js';
import type { TestRelay } from '../helpers/relay.js';
import { Cleanup, clientFor, digestOf, drained, MiB, nextConnection, relayWithListener, whenClosed, writeAll } from './fixtures.js';

/** Resolves with the error the stream fails with, or rejects if it ends cleanly instead. */
function failureOf(stream: HybridConnectionStream, timeoutMs = 10_000): Promise<Error> {
  return withTimeout(
    new Promise<Error>((resolve, reject) => {
      stream.once('error', resolve);
      stream.once('end', () => reject(new Error('the stream ended cleanly instead of failing')));
      stream.resume();
    }),
    timeoutMs,
    'stream failure',
  );
}

describe('relayed streams', () => {
  const cleanup = new Cleanup();
  let relay: TestRelay;
  let listener: HybridConnectionListener;
  const connect = async () => cleanup.stream(await clientFor(relay, 'streams').createConnection({ retryBudgetMs: 5000 }));

  before(async () => {
    ({ relay, listener } = await relayWithListener(cleanup, 'streams'));
  });
  after(() => cleanup.run());

  it('a first text message, then bytes: readMessage() and sendMessage() keep message types', async () => {
    const sender = await connect();
    const accepted = cleanup.stream(await nextConnection(listener));
    const body = patternBytes(3 * MiB + 17, 41);

    await sender.sendMessage('{"target":"db:5432"}');
    const writing = writeAll(sender, body);
    const first = await accepted.readMessage(5000);
    assert.deepEqual(first && { binary: first.binary, text: first.data.toString('utf8') }, { binary: false, text: '{"target":"db:5432"}' });

    await accepted.sendMessage(Buffer.from([0x01, 0x00, 0x02]));
    await accepted.sendMessage('ok');
    const reply1 = await sender.readMessage(5000);
    const reply2 = await sender.readMessage(5000);
    assert.deepEqual(reply1 && { binary: reply1.binary, bytes: [...reply1.data] }, { binary: true, bytes: [1, 0, 2] });
    assert.deepEqual(reply2 && { binary: reply2.binary, text: reply2.data.toString('utf8') }, { binary: false, text: 'ok' });

    const rest = await digestOf(accepted);
    await writing;
    assert.equal(rest.length, body.length);
    assert.equal(rest.sha256, sha256(body));
    await assert.rejects(accepted.readMessage(100), /after the stream started reading bytes/);
    accepted.end();
    await digestOf(sender);
  });

  it('readMessage() times out with RelayTimeoutError, and resolves undefined after a clean end of the peer', async () => {
    const sender = await connect();
    const accepted = cleanup.stream(await nextConnection(listener));
    await assert.rejects(accepted.readMessage(200), RelayTimeoutError);
    sender.end();
    assert.equal(await accepted.readMessage(5000), undefined);
    // Nothing is left to read; reading as bytes now just ends.
    assert.equal((await digestOf(accepted)).length, 0);
    accepted.end();
    const rest = await digestOf(sender);
    assert.equal(rest.length, 0);
    await Promise.all([whenClosed(sender), whenClosed(accepted)]);
  });

  it('a paused reader stops the writer: 256 MiB offered for 2 s, memory grows by less than 64 MiB, then all of it arrives', async (t) => {
    const sender = await connect();
    const accepted = cleanup.stream(await nextConnection(listener));
    // The listener reads 1 MiB, then pauses.
    const received = new Digest();
    await new Promise<void>((resolve) => {
      const onData = (chunk: Buffer) => {
        received.update(chunk);
        if (received.length >= MiB) {
          accepted.pause();
          accepted.off('data', onData);
          resolve();
        }
      };
      accepted.on('data', onData);
      sender.write(patternBytes(MiB, 50));
    });

    const chunk = patternBytes(MiB, 51);
    const sent = new Digest();
    sent.update(patternBytes(MiB, 50));
    const start = process.memoryUsage();
    const deadline = Date.now() + 2000;
    let written = 0;
    let peak = 0;
    while (written < 256 * MiB && Date.now() < deadline) {
      const ok = sender.write(chunk);
      sent.update(chunk);
      written += chunk.length;
      const now = process.memoryUsage();
      peak = Math.max(peak, now.rss - start.rss, now.arrayBuffers - start.arrayBuffers);
      if (!ok) await Promise.race([drained(sender), delay(Math.max(0, deadline - Date.now()))]);
    }
    t.diagnostic(`written while the reader was paused: ${(written / MiB).toFixed(1)} MiB; peak memory growth ${(peak / MiB).toFixed(1)} MiB`);
    assert.ok(written < 256 * MiB, `the writer was held back (wrote ${written / MiB} MiB in 2 s)`);
    assert.ok(peak < 64 * MiB, `memory grew by ${(peak / MiB).toFixed(1)} MiB while the reader was paused`);

    // Resume: everything written, and only that, arrives in order.
    accepted.on('data', (c: Buffer) => received.update(c));
    const ended = new Promise<void>((resolve, reject) => {
      accepted.once('end', resolve);
      accepted.once('error', reject);
    });
    accepted.resume();
    await withTimeout(new Promise<void>((resolve) => sender.end(resolve)), 30_000, 'writer finishes');
    await withTimeout(ended, 30_000, 'reader drains');
    assert.equal(received.length, written + MiB);
    assert.equal(received.hex(), sent.hex());
    accepted.end();
  });

  it("a listener's destroy() fails the sender's reading with ConnectionLostError, not a clean end", async () => {
    const sender = await connect();
    const accepted = cleanup.stream(await nextConnection(listener));
    await writeAll(accepted, patternBytes(100_000, 61), { end: false });
    const failed = failureOf(sender);
    accepted.destroy();
    const error = await failed;
    assert.ok(error instanceof ConnectionLostError, `got ${error.name}: ${error.message}`);
    assert.notEqual(error.closeCode, 1000);
  });

  it("a sender's destroy(error) fails the listener's reading with ConnectionLostError", async () => {
    const sender = await connect();
    const accepted = cleanup.stream(await nextConnection(listener));
    const failed = failureOf(accepted);
    sender.on('error', () => undefined);
    sender.write(patternBytes(1000, 62));
    sender.destroy(new Error('local socket reset'));
    const error = await failed;
    assert.ok(error instanceof ConnectionLostError, `got ${error.name}: ${error.message}`);
  });

  it("a sender's destroy() before any message makes the listener's readMessage() fail", async () => {
    const sender = await connect();
    const accepted = cleanup.stream(await nextConnection(listener));
    accepted.on('error', () => undefined);
    sender.destroy();
    await assert.rejects(accepted.readMessage(5000), ConnectionLostError);
  });

  it('close() is a clean full close: the peer ends cleanly, and a later abort by the peer raises nothing on our side', async () => {
    const sender = await connect();
    const accepted = cleanup.stream(await nextConnection(listener));
    const errors: Error[] = [];
    const onError = (err: Error) => errors.push(err);
    sender.on('error', onError);
    sender.write(patternBytes(10_000, 64));
    const atListener = digestOf(accepted);
    sender.close(1000, 'bye');
    assert.equal((await atListener).length, 10_000, 'the listener read everything, then a clean end');
    assert.equal(accepted.closeCode, 1000);
    accepted.destroy();
    await whenClosed(sender, 5000);
    await delay(300);
    assert.deepEqual(errors.map((e) => e.message), []);
  });

  it('sendMessage() on an ended, closed or failed stream rejects at once instead of hanging', async () => {
    const sender = await connect();
    const accepted = cleanup.stream(await nextConnection(listener));
    accepted.on('error', () => undefined);
    sender.on('error', () => undefined);
    sender.end();
    await whenClosed(sender, 100).catch(() => undefined);
    await assert.rejects(withTimeout(sender.sendMessage('after end'), 2000, 'sendMessage after end'), ConnectionLostError);
    accepted.destroy();
    await whenClosed(sender, 5000).catch(() => sender.destroy());
    await assert.rejects(withTimeout(sender.sendMessage('after close'), 2000, 'sendMessage after close'), ConnectionLostError);
    await assert.rejects(withTimeout(accepted.sendMessage(Buffer.from('after destroy')), 2000, 'sendMessage after destroy'), ConnectionLostError);
  });

  it('writing after the peer vanished fails with ConnectionLostError', async () => {
    const sender = await connect();
    const accepted = cleanup.stream(await nextConnection(listener));
    accepted.on('error', () => undefined);
    const failed = new Promise<Error>((resolve) => sender.once('error', resolve));
    accepted.destroy();
    const chunk = patternBytes(MiB, 63);
    for (let i = 0; i < 64 && !sender.destroyed; i++) {
      if (!sender.write(chunk)) await Promise.race([drained(sender).catch(() => undefined), delay(500)]);
    }
    const error = await withTimeout(failed, 10_000, 'write failure');
    assert.ok(error instanceof ConnectionLostError, `got ${error.name}: ${error.message}`);
  });
});
