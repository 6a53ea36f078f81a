import { RelayTimeoutError, type HybridConnectionStream } from '../../client/index.js';
import {
  describePreambleReply,
  encodePreamble,
  isAcceptedFor,
  PreambleReplyDecoder,
  type Preamble,
  type PreambleReply,
} from '../../protocol/azbridge-preamble.js';
import type { ConnectionEnd } from '../../forwarding/lifecycle/connection-fields.js';
import { readDecoded } from '../read-messages.js';
import type { SenderConnector } from './sender-connector.js';

export class BridgeOpenError extends Error {
  constructor(
    readonly failure: ConnectionEnd,
    message: string,
    /** The relayed connection was lost before the remote side answered: another try is safe. */
    readonly lostBeforeReply = false,
    /** The relay's id of the connection that was refused, when one was opened. */
    readonly trackingId?: string,
  ) {
    super(message);
    this.name = 'BridgeOpenError';
  }
}

export interface OpenBridgeStreamOptions {
  /** The whole set-up budget: connects, preambles and replies, retries included. */
  replyTimeoutMs: number;
  signal?: AbortSignal;
  /** Called before a connection lost ahead of the reply is tried again. */
  onRetry?(retry: number, reason: string): void;
}

/** How often a relayed connection lost before the remote's reply is tried again. */
export const MAX_RETRIES_BEFORE_REPLY = 3;

/**
 * Opens a relayed connection for one logical port (openOnce), and tries again when the relayed
 * connection is lost before the remote side answered the preamble: the listener it reached died
 * (one of a pool of listeners killed between taking the connection and answering) or a prewarmed
 * connection had gone stale. The client's bytes are not read until the reply came, so nothing was
 * sent on its behalf and another try is safe. Retries stay within `replyTimeoutMs` and stop when the
 * client goes away. A refusal, a clean close without reply, or a reply timeout is not retried.
 */
export async function openBridgeStream(connector: SenderConnector, preamble: Preamble, options: OpenBridgeStreamOptions): Promise<HybridConnectionStream> {
  const deadline = Date.now() + options.replyTimeoutMs;
  for (let retry = 1; ; retry++) {
    try {
      return await openOnce(connector, preamble, { replyTimeoutMs: Math.max(1, deadline - Date.now()), signal: options.signal });
    } catch (err) {
      const again = err instanceof BridgeOpenError && err.lostBeforeReply && retry <= MAX_RETRIES_BEFORE_REPLY && !options.signal?.aborted && Date.now() < deadline;
      if (!again) throw err;
      options.onRetry?.(retry, err.message);
    }
  }
}

/**
 * Opens a relayed connection for one logical port: connects (or takes a prewarmed connection),
 * writes the preamble `01 00 mode len name`, and waits for the reply. Only `01 00 mode` lets the
 * connection through; hybridge's refusals are turned into a message that names the port and the
 * reason, so a port-name mismatch is never a silent EOF. Bytes after the reply stay in the stream.
 */
async function openOnce(connector: SenderConnector, preamble: Preamble, options: { replyTimeoutMs: number; signal?: AbortSignal }): Promise<HybridConnectionStream> {
  let stream: HybridConnectionStream;
  try {
    stream = await connector.connect(options.signal);
  } catch (err) {
    throw new BridgeOpenError('relay-unavailable', (err as Error).message);
  }
  stream.on('error', () => undefined);
  try {
    await stream.sendMessage(encodePreamble(preamble));
    const decoder = new PreambleReplyDecoder();
    const outcome = await readDecoded(stream, (chunk) => decoder.push(chunk), options.replyTimeoutMs);
    let reply: PreambleReply | undefined;
    if (outcome.status === 'complete') reply = outcome.value;
    else if (outcome.status === 'ended') reply = decoder.end();
    else throw new BridgeOpenError('refused', 'the remote side answered with a text message; it does not speak the azbridge preamble');
    if (!reply) {
      throw new BridgeOpenError('refused', `the remote side closed without answering; an azbridge remote does this when it has no port named "${preamble.portName}"`);
    }
    if (!isAcceptedFor(reply, preamble.mode)) {
      const failure: ConnectionEnd = reply.kind === 'unknown-port-name' ? 'unknown-port' : reply.kind === 'target-unreachable' ? 'target-unreachable' : 'refused';
      throw new BridgeOpenError(failure, `port "${preamble.portName}" refused by the remote side: ${describePreambleReply(reply)}`);
    }
    return stream;
  } catch (err) {
    stream.destroy();
    if (err instanceof BridgeOpenError) throw new BridgeOpenError(err.failure, err.message, err.lostBeforeReply, stream.trackingId);
    throw new BridgeOpenError('relay-unavailable', `no answer to the preamble: ${(err as Error).message}`, !(err instanceof RelayTimeoutError), stream.trackingId);
  }
}
