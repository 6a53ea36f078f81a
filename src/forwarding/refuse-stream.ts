import type { HybridConnectionStream } from '../client/index.js';
import { clearTimer } from '../util/clear-timer.js';

/**
 * Sends a final message (a refusal reply), if any, and half-closes; whatever the peer still sends is
 * discarded, and the stream is destroyed if the peer does not close its side within `graceMs`.
 */
export function refuseStream(stream: HybridConnectionStream, reply: Buffer | string | undefined, graceMs = 10_000): Promise<void> {
  return new Promise((resolve) => {
    stream.on('error', () => undefined);
    if (stream.destroyed) return resolve();
    const timer = setTimeout(() => stream.destroy(), graceMs);
    timer.unref();
    stream.once('close', () => {
      clearTimer(timer);
      resolve();
    });
    if (typeof reply === 'string') {
      void stream.sendMessage(reply).catch(() => undefined);
      stream.end();
    } else if (reply) stream.end(reply);
    else stream.end();
    stream.resume();
  });
}
