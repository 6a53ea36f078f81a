import { MessageTooLargeError, RelayTimeoutError } from '../client/errors.js';
import type { HybridConnectionStream, RelayedMessage } from '../client/hybrid-connection-stream.js';
import type { MuxListener } from '../mux/mux-listener.js';
import type { ConnectionLifecycle } from './lifecycle/connection-lifecycle.js';
import type { ConnectionFields } from './lifecycle/connection-fields.js';
import type { TrackedConnection } from './lifecycle/tracked-connection.js';

/**
 * Serves one relayed connection whose first message has already been read. The handler owns the
 * stream from then on (it answers, pumps, and closes it) and ends the tracked connection.
 */
export type ProtocolHandler = (stream: HybridConnectionStream, first: RelayedMessage, connection: TrackedConnection) => Promise<void>;

/** The target pools a handler serves, by port name, with their members (read live: health changes). */
export type TargetPools = Iterable<{ port: string; members: readonly { label: string; up: boolean }[] }>;

/** A handler that may own target pools: health checks to start and stop, members for the metrics. */
export type PooledHandler = ProtocolHandler & { start?(): void; close?(): void; pools?(): TargetPools };

/** Builds a handler with the target dial timeout of the configuration it serves (which a reload may change). */
export type ProtocolHandlerFactory = (options: { connectTimeoutMs: number }) => ProtocolHandler;

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
  /** Takes connections that open a multiplexed session (a hybridge sender's hello) instead of one stream. */
  mux?: MuxListener;
}

/** Opens the tracked connection of a relayed connection a listener end accepted. */
export function trackAccepted(lifecycle: ConnectionLifecycle, stream: HybridConnectionStream, fields: ConnectionFields): TrackedConnection {
  return lifecycle.open({ role: 'listener', fields: { ...fields, trackingId: stream.trackingId }, abort: () => stream.destroy() });
}

/**
 * The listener end of a hybrid connection: the first message tells which peer protocol the sender
 * speaks, so one listener serves azbridge-style and aztunnel-style senders on one hybrid connection.
 * Whatever happens, the tracked connection has ended when this resolves.
 */
export async function dispatchConnection(stream: HybridConnectionStream, handlers: ListenerEndHandlers, connection: TrackedConnection, options: DispatchOptions): Promise<void> {
  // A connection lost while it waits for its first message (the relay went away under a prewarmed
  // sender's idle connection) rejects readMessage(); its 'error' event must not end the process.
  stream.on('error', () => undefined);
  try {
    let first: RelayedMessage | undefined;
    try {
      first = await stream.readMessage(options.firstMessageTimeoutMs, MAX_FIRST_MESSAGE_BYTES);
    } catch (err) {
      if (err instanceof MessageTooLargeError) connection.end({ end: 'refused', reason: `first message larger than ${MAX_FIRST_MESSAGE_BYTES} bytes` });
      else connection.end({ end: err instanceof RelayTimeoutError ? 'timeout' : 'relay-error', reason: `no first message: ${(err as Error).message}` });
      stream.destroy();
      return;
    }
    if (!first) {
      // The sender closed without saying anything (a prewarmed connection that was not needed).
      connection.end({ end: 'client-gone', reason: 'the sender closed without a first message', quiet: true });
      stream.end();
      stream.resume();
      return;
    }
    if (options.mux && (await options.mux.accept(stream, first))) {
      connection.end({ end: stream.destroyed ? 'relay-error' : 'closed', reason: 'multiplexed session ended' });
      return;
    }
    await (first.binary ? handlers.azbridge(stream, first, connection) : handlers.aztunnel(stream, first, connection));
  } finally {
    if (!connection.isEnded) connection.end({ end: stream.destroyed ? 'relay-error' : 'closed' });
  }
}
