/**
 * Control-channel faults: the relay restarted on the same port with the same data directory (the
 * listener comes back online by itself, within its schedule), and the control channel cut while
 * three 16 MiB transfers run (they finish intact; the listener reconnects).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DEFAULT_RECONNECT_DELAYS_MS, type HybridConnectionStream } from '../../src/client/index.js';
import { delay, waitFor } from '../helpers/async.js';
import { Digest, patternBytes, sha256 } from '../helpers/data.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { Cleanup, clientFor, count, digestOf, drained, listenerFor, MiB, recordEvents, writeAll, type ListenerEvent } from './fixtures.js';

/** Writes `payload` 1 MiB at a time with a pause after each, so that a transfer takes a while. */
async function slowWrite(stream: HybridConnectionStream, payload: Buffer, pauseMs: number): Promise<void> {
  for (let offset = 0; offset < payload.length; offset += MiB) {
    if (!stream.write(payload.subarray(offset, offset + MiB))) await drained(stream);
    await delay(pauseMs);
  }
  await new Promise<void>((resolve, reject) => {
    stream.once('error', reject);
    stream.end(resolve);
  });
}

function onlineAfter(events: ListenerEvent[], since: number): number | undefined {
  return events.find((e) => e.event === 'online' && e.at >= since)?.at;
}

describe('control-channel faults', () => {
  const cleanup = new Cleanup();
  after(() => cleanup.run());

  it('the default reconnect schedule is the .NET SDK one: 0, 1, 2, 5, 10, 30 s', () => {
    assert.deepEqual([...DEFAULT_RECONNECT_DELAYS_MS], [0, 1000, 2000, 5000, 10_000, 30_000]);
  });

  it('after a relay restart on the same port and data directory, listeners come back online by themselves within their schedule', async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'hybridge-client-restart-'));
    cleanup.add(dataDir, (dir) => rmSync(dir, { recursive: true, force: true }));
    let relay: TestRelay = await startRelay({ dataDir, keepData: true, hybridConnections: ['restart'] });
    const port = relay.port;
    cleanup.add(undefined, () => relay.stop());

    const fast = cleanup.listener(listenerFor(relay, 'restart', { reconnectDelaysMs: [0, 100, 200, 400] }));
    const standard = cleanup.listener(listenerFor(relay, 'restart'));
    const fastEvents = recordEvents(fast);
    const standardEvents = recordEvents(standard);
    await fast.open();
    await standard.open();

    await relay.stop();
    await waitFor(() => !fast.isOnline && !standard.isOnline, 5000, 'both listeners notice the relay is gone');
    assert.ok(count(fastEvents, 'connecting') >= 1 && count(standardEvents, 'connecting') >= 1, 'both try to reconnect');
    await delay(500);
    relay = await startRelay({ port, dataDir, keepData: true });
    const restartedAt = Date.now();

    await waitFor(() => fast.isOnline && standard.isOnline, 6000, 'both listeners back online');
    const fastDelay = onlineAfter(fastEvents, restartedAt)! - restartedAt;
    const standardDelay = onlineAfter(standardEvents, restartedAt)! - restartedAt;
    t.diagnostic(`back online ${fastDelay} ms (fast schedule) and ${standardDelay} ms (default schedule) after the restart`);
    // Fast schedule: the next attempt is at most 400 ms (+20 % jitter) away. Default: the relay
    // was down ~0.6 s, so the 1 s (or at worst the 2 s) step brings it back.
    assert.ok(fastDelay < 1000, `fast listener back after ${fastDelay} ms`);
    assert.ok(standardDelay < 3000, `default-schedule listener back after ${standardDelay} ms`);
    assert.equal(count(fastEvents, 'offline'), 0, 'no offline event: the listener was never given up');
    assert.equal(relay.server.registry.count('restart'), 2);

    // And it serves again: bytes through the restarted relay, checked.
    const payload = patternBytes(MiB, 90);
    const got = new Promise<{ length: number; sha256: string }>((resolve, reject) => {
      const take = (stream: HybridConnectionStream) => {
        fast.off('connection', take);
        standard.off('connection', take);
        digestOf(stream).then(resolve, reject);
        writeAll(stream, Buffer.from('ok')).catch(reject);
      };
      fast.on('connection', take);
      standard.on('connection', take);
    });
    const sender = cleanup.stream(await clientFor(relay, 'restart').createConnection({ retryBudgetMs: 5000 }));
    const reply = digestOf(sender);
    await writeAll(sender, payload);
    assert.deepEqual(await got, { length: payload.length, sha256: sha256(payload) });
    assert.deepEqual(await reply, { length: 2, sha256: sha256(Buffer.from('ok')) });
  });

  it('cutting the control channel while three 16 MiB transfers run leaves them intact, and the listener reconnects', async () => {
    const relay = cleanup.add(await startRelay({ hybridConnections: ['cut'] }), (r) => r.stop());
    const listener = cleanup.listener(listenerFor(relay, 'cut', { reconnectDelaysMs: [0, 100, 200] }));
    const events = recordEvents(listener);
    const accepted: HybridConnectionStream[] = [];
    const atListener: Promise<{ length: number; sha256: string }>[] = [];
    listener.on('connection', (stream) => {
      accepted.push(stream);
      const digest = new Digest();
      atListener.push(
        new Promise((resolve, reject) => {
          stream.on('data', (chunk: Buffer) => digest.update(chunk));
          stream.once('end', () => resolve({ length: digest.length, sha256: digest.hex() }));
          stream.once('error', reject);
        }),
      );
      stream.pipe(stream);
    });
    await listener.open();

    const client = clientFor(relay, 'cut');
    const senders = await Promise.all([0, 1, 2].map(async () => cleanup.stream(await client.createConnection({ retryBudgetMs: 5000 }))));
    await waitFor(() => accepted.length === 3, 5000, 'three connections accepted');
    const payloads = [0, 1, 2].map((i) => patternBytes(16 * MiB, 70 + i));
    const echoes = senders.map((s) => digestOf(s, 30_000, 'echo'));
    let writesDone = 0;
    const writes = senders.map((s, i) => slowWrite(s, payloads[i]!, 15).then(() => writesDone++));

    await waitFor(() => accepted.every((s) => s.bytesReceived >= 2 * MiB), 10_000, 'every transfer under way');
    assert.equal(writesDone, 0, 'no transfer finished before the cut');
    const channels = relay.server.registry.channels('cut');
    assert.equal(channels.length, 1);
    const cutAt = Date.now();
    channels[0]!.conn.destroy();

    await Promise.all(writes);
    const received = await Promise.all(atListener);
    const back = await Promise.all(echoes);
    // The listener may accept the three in any order (a rendezvous on a pre-connected socket
    // finishes first), so its side is compared as a set; each echo belongs to its sender.
    const bySha = (a: { sha256: string }, b: { sha256: string }) => a.sha256.localeCompare(b.sha256);
    assert.deepEqual([...received].sort(bySha), payloads.map((p) => ({ length: p.length, sha256: sha256(p) })).sort(bySha), 'every stream intact at the listener');
    payloads.forEach((p, i) => assert.deepEqual(back[i], { length: p.length, sha256: sha256(p) }, `stream ${i} echoed`));

    await waitFor(() => onlineAfter(events, cutAt) !== undefined, 5000, 'listener back online');
    assert.ok(events.some((e) => e.event === 'error' && /control channel closed/.test(e.error?.message ?? '')), 'the cut was reported');
    assert.equal(count(events, 'offline'), 0);
    assert.notEqual(relay.server.registry.channels('cut')[0], channels[0], 'a new control channel');

    // A new connection after the reconnect works too.
    const late = cleanup.stream(await client.createConnection({ retryBudgetMs: 5000 }));
    const lateEcho = digestOf(late);
    const small = patternBytes(100_000, 79);
    await writeAll(late, small);
    assert.deepEqual(await lateEcho, { length: small.length, sha256: sha256(small) });
  });
});
