import type { HybridConnectionStream } from '../client/index.js';
import type { DecodeStep } from '../protocol/azbridge-preamble.js';

export type ReadOutcome<T> =
  | { status: 'complete'; value: T }
  /** The peer closed its direction before the decoder completed. */
  | { status: 'ended' }
  /** A text message arrived where only binary data belongs. */
  | { status: 'text' };

/**
 * Feeds whole relayed messages to a decoder until it completes (an azbridge sender writes its
 * preamble as two messages; a peer may also split it further). Bytes after the decoded value are put
 * back at the front of the stream, so the payload that follows is not lost. Must run before anything
 * reads the stream as bytes. Rejects when `timeoutMs` passes (RelayTimeoutError) or the stream fails.
 */
export async function readDecoded<T>(
  stream: HybridConnectionStream,
  push: (chunk: Buffer) => DecodeStep<T>,
  timeoutMs: number,
  first?: Buffer,
): Promise<ReadOutcome<T>> {
  const deadline = Date.now() + timeoutMs;
  let chunk = first;
  for (;;) {
    if (chunk !== undefined) {
      const step = push(chunk);
      if (step.status === 'complete') {
        if (step.rest.length > 0) stream.unshift(step.rest);
        return { status: 'complete', value: step.value };
      }
    }
    const message = await stream.readMessage(Math.max(1, deadline - Date.now()));
    if (!message) return { status: 'ended' };
    if (!message.binary) return { status: 'text' };
    chunk = message.data;
  }
}
