import { MessageTooLargeError } from '../client/errors.js';
import type { HybridConnectionStream, RelayedMessage } from '../client/hybrid-connection-stream.js';
import type { MuxListener } from '../mux/mux-listener.js';
import type { Logger } from '../util/logger.js';

/**
 * Serves one relayed connection whose first message has already been read. The handler owns the
 * stream from then on (it answers, pumps, and closes it).
 */
export type ProtocolHandler = (stream: HybridConnectionStream, first: RelayedMessage) => Promise<void>;

export interface ListenerEndHandlers {
  /** azbridge senders open with a binary preamble (`01 00 mode len name`). */
  azbridge: ProtocolHandler;
  /** aztunnel senders open with a JSON envelope in one text message. */
  aztunnel: ProtocolHandler;
}

/**
 * The largest first message a listener end reads: an aztunnel envelope is at most 4 KiB, an azbridge
 * preamble 259 bytes. Anything larger is refused (close 1009) as soon as this much has arrived.
 */
export const MAX_FIRST_MESSAGE_BYTES = 64 * 1024;

/**
 * The listeners' policy (relay-listener and bridge -T/-H alike): a relay that is unreachable or drops
 * the control channel is retried for ever; credentials refused this many times in a row, or a hybrid
 * connection that does not exist (or was deleted), stop the listener for good (the process exits 1).
 */
export const LISTENER_MAX_AUTHORIZATION_FAILURES = 3;

export interface DispatchOptions {
  /** How long a connection may stay silent before its first message (prewarmed senders wait too). */
  firstMessageTimeoutMs: number;
  log: Logger;
  /** Takes connections that open a multiplexed session (a hybridge sender's hello) instead of one stream. */
  mux?: MuxListener;
}

/**
 * The listener end of a hybrid connection: the first message tells which peer protocol the sender
 * speaks, so one listener serves azbridge-style and aztunnel-style senders on one hybrid connection.
 */
export async function dispatchConnection(stream: HybridConnectionStream, handlers: ListenerEndHandlers, options: DispatchOptions): Promise<void> {
  let first: RelayedMessage | undefined;
  try {
    first = await stream.readMessage(options.firstMessageTimeoutMs, MAX_FIRST_MESSAGE_BYTES);
  } catch (err) {
    if (err instanceof MessageTooLargeError) options.log.warn({ conn: stream.trackingId, limit: MAX_FIRST_MESSAGE_BYTES }, 'connection refused: first message too large');
    else options.log.info({ conn: stream.trackingId, reason: (err as Error).message }, 'connection closed before its first message');
    stream.destroy();
    return;
  }
  if (!first) {
    // The sender closed without saying anything (a prewarmed connection that was not needed).
    stream.end();
    stream.resume();
    return;
  }
  if (options.mux && (await options.mux.accept(stream, first))) return;
  await (first.binary ? handlers.azbridge(stream, first) : handlers.aztunnel(stream, first));
}
