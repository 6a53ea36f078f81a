/** Bounded stream helpers for the cluster tests: digests of what arrived, plain and paced writes. */
import type { Readable, Writable } from 'node:stream';
import { delay, drained, withTimeout } from '../helpers/async.js';
import { digestOf as readDigest, type StreamDigest } from '../shared/stream-digest.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;

export type { StreamDigest } from '../shared/stream-digest.js';

/** Reads `stream` to its end, hashing every byte; rejects on 'error', on a close without end, or after `timeoutMs`. */
export function digestOf(stream: Readable, timeoutMs: number, what = 'stream read'): Promise<StreamDigest> {
  return readDigest(stream, timeoutMs, what, { closeWithoutEnd: 'reject' });
}

/**
 * Writes `payload` in chunks, waiting for 'drain'; with `durationMs` the chunks are spread evenly
 * over that time (a slow transfer). Ends the stream afterwards.
 */
export async function writePayload(stream: Writable, payload: Buffer, options: { durationMs?: number; chunkSize?: number; timeoutMs: number }): Promise<void> {
  // A paced write sends a chunk at least every 50 ms or so.
  const paced = options.durationMs ? Math.ceil(payload.length / Math.max(1, options.durationMs / 50)) : Infinity;
  const chunkSize = Math.max(1, Math.min(options.chunkSize ?? 256 * KiB, paced));
  const chunks = Math.ceil(payload.length / chunkSize);
  const work = async () => {
    const started = Date.now();
    for (let i = 0; i < chunks; i++) {
      if (stream.destroyed) throw new Error(`stream destroyed after ${i * chunkSize} bytes`);
      if (!stream.write(payload.subarray(i * chunkSize, Math.min(payload.length, (i + 1) * chunkSize)))) await drained(stream);
      if (options.durationMs) {
        const due = started + ((i + 1) * options.durationMs) / chunks;
        while (due > Date.now() && !stream.destroyed) await delay(Math.min(100, due - Date.now()));
      }
    }
    await new Promise<void>((resolve, reject) => {
      stream.once('error', reject);
      stream.end(() => resolve());
    });
  };
  await withTimeout(work(), options.timeoutMs, 'stream write');
}

