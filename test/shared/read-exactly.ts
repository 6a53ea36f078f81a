/**
 * Byte-exact reads for the tests that speak a protocol by hand (SOCKS5 over a TCP socket, azbridge's
 * preamble over a relayed stream): take exactly the bytes a field has and leave the rest unread.
 */
import type { Readable } from 'node:stream';
import { withTimeout } from '../helpers/async.js';

/**
 * Resolves with the next `n` bytes of `stream` and pauses it, pushing back whatever came beyond
 * them. Rejects when the stream ends, closes or fails first (an 'error' rejects with that error),
 * or after `timeoutMs`.
 */
export function readExactly(stream: Readable, n: number, timeoutMs = 10_000): Promise<Buffer> {
  if (n === 0) return Promise.resolve(Buffer.alloc(0));
  return withTimeout(
    new Promise<Buffer>((resolve, reject) => {
      const parts: Buffer[] = [];
      let have = 0;
      const cleanup = () => {
        stream.off('data', onData);
        stream.off('end', onEnd);
        stream.off('close', onEnd);
        stream.off('error', onError);
      };
      const onData = (chunk: Buffer) => {
        parts.push(chunk);
        have += chunk.length;
        if (have < n) return;
        cleanup();
        stream.pause();
        const all = Buffer.concat(parts);
        if (all.length > n) stream.unshift(all.subarray(n));
        resolve(all.subarray(0, n));
      };
      const onEnd = () => {
        cleanup();
        reject(new Error(`stream ended after ${have} of ${n} bytes: ${Buffer.concat(parts).toString('hex')}`));
      };
      const onError = (err: Error) => {
        cleanup();
        reject(err);
      };
      stream.on('data', onData);
      stream.once('end', onEnd);
      stream.once('close', onEnd);
      stream.once('error', onError);
      // A 'data' listener does not restart a stream that was paused explicitly.
      stream.resume();
    }),
    timeoutMs,
    `reading ${n} bytes`,
  );
}
