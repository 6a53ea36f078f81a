import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HybridConnectionStream } from '../../src/client/hybrid-connection-stream.js';
import { withTimeout } from '../helpers/async.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { muxPair } from './mux-pair.js';

const TOTAL = 8 * 2 ** 20;

/**
 * Writes `data` in messages of `size` bytes, each one only after the previous one was taken (its
 * write callback), so the stream's messages keep that size instead of being joined in the
 * Writable's buffer.
 */
async function writeInMessages(stream: HybridConnectionStream, data: Buffer, size: number): Promise<void> {
  for (let offset = 0; offset < data.length; offset += size) {
    await new Promise<void>((resolve, reject) => stream.write(data.subarray(offset, offset + size), (err) => (err ? reject(err) : resolve())));
  }
  stream.end();
}

interface Received {
  chunks: Buffer[];
  bytes: number;
  done: Promise<void>;
}

function receive(stream: HybridConnectionStream, onData: () => void): Received {
  const received: Received = { chunks: [], bytes: 0, done: Promise.resolve() };
  received.done = new Promise((resolve, reject) => {
    stream.on('data', (chunk: Buffer) => {
      received.chunks.push(chunk);
      received.bytes += chunk.length;
      onData();
    });
    stream.once('end', () => resolve());
    stream.once('error', reject);
  });
  return received;
}

describe('mux scheduling', () => {
  it('shares a session between streams by bytes, not frames: small messages move as fast as large ones', async (t) => {
    const pair = await muxPair();
    try {
      const large = pair.open();
      const small = pair.open();
      const largeData = patternBytes(TOTAL, 1);
      const smallData = patternBytes(TOTAL, 2);
      // Stream 1 sends 64 KiB messages (a full socket read), stream 3 sends 2 KiB ones (short reads).
      const writing = Promise.all([writeInMessages(large, largeData, 64 * 1024), writeInMessages(small, smallData, 2 * 1024)]);
      const accepted = await withTimeout(
        (async () => {
          while (pair.accepted.length < 2) await new Promise((r) => setTimeout(r, 5));
          return pair.accepted;
        })(),
        5000,
        'both streams at the acceptor',
      );
      const byId = new Map(accepted.map((stream, i) => [pair.channels[i]!.id, stream]));
      let smallWhenLargeDone: number | undefined;
      let largeWhenSmallDone: number | undefined;
      const atLarge: Received = receive(byId.get(1)!, () => {
        if (atLarge.bytes === TOTAL && smallWhenLargeDone === undefined) smallWhenLargeDone = atSmall.bytes;
      });
      const atSmall: Received = receive(byId.get(3)!, () => {
        if (atSmall.bytes === TOTAL && largeWhenSmallDone === undefined) largeWhenSmallDone = atLarge.bytes;
      });
      await withTimeout(Promise.all([writing, atLarge.done, atSmall.done]), 60_000, 'both transfers');
      assert.equal(atLarge.bytes, TOTAL);
      assert.equal(sha256(atLarge.chunks), sha256(largeData));
      assert.equal(atSmall.bytes, TOTAL);
      assert.equal(sha256(atSmall.chunks), sha256(smallData));
      // Whichever finished first, the other had moved most of its bytes by then. Sharing by frames
      // gives the 2 KiB stream one 32nd of the 64 KiB stream's bytes per round.
      const other = smallWhenLargeDone ?? largeWhenSmallDone!;
      t.diagnostic(`the other stream had ${other} of ${TOTAL} bytes when the first was done`);
      assert.ok(other >= TOTAL / 2, `the other stream had ${other} of ${TOTAL} bytes when the first was done (large first: ${smallWhenLargeDone !== undefined})`);
    } finally {
      pair.destroy();
    }
  });
});
