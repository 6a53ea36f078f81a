/** The digest of everything a stream delivered (length + SHA-256), read to its end within a bound. */
import type { Readable } from 'node:stream';
import { withTimeout } from '../helpers/async.js';
import { Digest } from '../helpers/data.js';

export interface StreamDigest {
  length: number;
  sha256: string;
}

/**
 * Reads `stream` to its end, hashing every byte; rejects on 'error' or after `timeoutMs`. With
 * `closeWithoutEnd: 'reject'` a 'close' before the end rejects at once (instead of waiting out the
 * bound).
 */
export function digestOf(stream: Readable, timeoutMs = 30_000, what = 'stream read', options: { closeWithoutEnd?: 'wait' | 'reject' } = {}): Promise<StreamDigest> {
  const digest = new Digest();
  return withTimeout(
    new Promise<StreamDigest>((resolve, reject) => {
      stream.on('data', (chunk: Buffer) => digest.update(chunk));
      stream.once('end', () => resolve({ length: digest.length, sha256: digest.hex() }));
      stream.once('error', reject);
      if (options.closeWithoutEnd === 'reject') stream.once('close', () => reject(new Error(`${what}: closed after ${digest.length} bytes without an end`)));
    }),
    timeoutMs,
    what,
  );
}
