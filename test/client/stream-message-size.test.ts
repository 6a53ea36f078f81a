import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { HybridConnectionListener, HybridConnectionStream } from '../../src/client/index.js';
import { HybridConnectionClient, HybridConnectionListener as Listener } from '../../src/client/index.js';
import { withTimeout } from '../helpers/async.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';

describe('maxOutgoingMessageBytes', () => {
  let relay: TestRelay;
  let listener: HybridConnectionListener;
  const accepted: HybridConnectionStream[] = [];
  before(async () => {
    relay = await startRelay({ hybridConnections: ['bounded'] });
    listener = new Listener({ connectionString: relay.connectionString('bounded') });
    listener.on('connection', (s) => accepted.push(s));
    await listener.open();
  });
  after(async () => {
    await listener.close();
    await relay.stop();
  });

  it('never sends a message over the limit, even when writes queue up and are merged (aztunnel peers read at most 32 KiB)', async () => {
    const sender = await new HybridConnectionClient({ connectionString: relay.connectionString('bounded') }).createConnection();
    sender.setMaxOutgoingMessageBytes(32 * 1024);
    const bounded = sender;
    const payload = patternBytes(3 * 1024 * 1024 + 17, 5);
    // Many writes at once, without waiting: the stream must not merge them into big messages.
    for (let offset = 0; offset < payload.length; offset += 100_000) bounded.write(payload.subarray(offset, offset + 100_000));
    bounded.end();
    const receiver = await withTimeout((async () => { while (accepted.length === 0) await new Promise((r) => setTimeout(r, 10)); return accepted[0]!; })(), 5000, 'accept');
    const parts: Buffer[] = [];
    let largest = 0;
    for (;;) {
      const message = await receiver.readMessage(10_000);
      if (!message) break;
      largest = Math.max(largest, message.data.length);
      parts.push(message.data);
    }
    const received = Buffer.concat(parts);
    assert.equal(received.length, payload.length);
    assert.equal(sha256(received), sha256(payload));
    assert.ok(largest <= 32 * 1024, `largest message: ${largest} bytes`);
    receiver.end();
    await withTimeout(new Promise((resolve) => bounded.once('close', resolve).resume()), 5000, 'close');
  });
});
