import { RelayTimeoutError, type HybridConnectionStream } from '../../client/index.js';
import {
  describePreambleReply,
  encodePreamble,
  isAcceptedFor,
  PreambleMode,
  PreambleReplyDecoder,
  type Preamble,
  type PreambleReply,
} from '../../protocol/azbridge-preamble.js';
import type { EarlyBytes } from '../../forwarding/early-bytes.js';
import type { ConnectionEnd } from '../../forwarding/lifecycle/connection-fields.js';
import { readDecoded } from '../../forwarding/read-decoded.js';
import { listenerIdInReason, withoutListenerId } from '../../protocol/port-announcement.js';
import { LostBeforeAnswer, RefusedByListener, type RetryCause, type SenderEnd } from '../../forwarding/sender-end.js';

export class BridgeOpenError extends Error {
  constructor(
    readonly failure: ConnectionEnd,
    message: string,
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
  /**
   * The client's first bytes (forwarding/early-bytes.ts): sent right behind the preamble of each
   * try, without waiting for the reply, and replayed on the next try after a refusal or a loss.
   */
  early?: EarlyBytes;
  /**
   * Called before another try: `lost`, the connection was lost ahead of the reply; `port-refused`,
   * a listener that does not serve the port refused it, and another listener is tried.
   */
  onRetry?(retry: number, reason: string, why: RetryCause): void;
}

/** The log line before another try. */
export function retryMessage(why: RetryCause): string {
  return why === 'port-refused' ? 'listener does not serve this port; trying another listener of the hybrid connection' : 'relayed connection lost before the remote side answered; trying again';
}

/**
 * Opens a relayed connection for one logical port through the sender end, which tries again when
 * the connection is lost before the remote side answered the preamble and passes over listeners
 * that do not serve the port (forwarding/sender-end.ts). The client's bytes sent behind the
 * preamble are kept (`early`) and sent again on the next try; a peer that did not accept the
 * preamble has not passed them on. Retries stay within `replyTimeoutMs` and stop when the client
 * goes away. A refusal, a clean close without reply, or a reply timeout is not retried.
 */
export function openBridgeStream(end: SenderEnd, preamble: Preamble, options: OpenBridgeStreamOptions): Promise<HybridConnectionStream> {
  return end.open({
    route: { portName: preamble.portName, logFields: { relay: end.hyco } },
    budgetMs: options.replyTimeoutMs,
    exchange: (stream, replyTimeoutMs) => exchangePreamble(stream, preamble, replyTimeoutMs, options.early),
    connectFailed: (err) => new BridgeOpenError('relay-unavailable', err.message),
    signal: options.signal,
    early: options.early,
    onRetry: options.onRetry,
  });
}

/**
 * The azbridge first exchange: writes the preamble `01 00 mode len name` and waits for the reply.
 * Only `01 00 mode` lets the connection through; hybridge's refusals are turned into a message that
 * names the port and the reason, so a port-name mismatch is never a silent EOF. Bytes after the
 * reply stay in the stream.
 */
async function exchangePreamble(stream: HybridConnectionStream, preamble: Preamble, replyTimeoutMs: number, early: EarlyBytes | undefined): Promise<HybridConnectionStream> {
  stream.on('error', () => undefined);
  try {
    await stream.sendMessage(encodePreamble(preamble));
    // Datagrams are framed per flow and wait for the reply; only streams carry early bytes.
    if (preamble.mode === PreambleMode.Stream) early?.sendTo(stream);
    const decoder = new PreambleReplyDecoder();
    const outcome = await readDecoded(stream, (chunk) => decoder.push(chunk), replyTimeoutMs);
    let reply: PreambleReply | undefined;
    if (outcome.status === 'complete') reply = outcome.value;
    else if (outcome.status === 'ended') reply = decoder.end();
    else throw new BridgeOpenError('refused', 'the remote side answered with a text message; it does not speak the azbridge preamble', stream.trackingId);
    if (!reply) {
      throw new BridgeOpenError('refused', `the remote side closed without answering; an azbridge remote does this when it has no port named "${preamble.portName}"`, stream.trackingId);
    }
    if (!isAcceptedFor(reply, preamble.mode)) {
      const failure: ConnectionEnd = reply.kind === 'unknown-port-name' ? 'unknown-port' : reply.kind === 'target-unreachable' ? 'target-unreachable' : 'refused';
      const refusing = reply.kind === 'unknown-port-name' ? listenerIdInReason(reply.reason) : undefined;
      const shown = reply.kind === 'unknown-port-name' ? { ...reply, reason: withoutListenerId(reply.reason) } : reply;
      const refusal = new BridgeOpenError(failure, `port "${preamble.portName}" refused by the remote side: ${describePreambleReply(shown)}`, stream.trackingId);
      throw refusing === undefined ? refusal : new RefusedByListener(refusal, refusing);
    }
    return stream;
  } catch (err) {
    stream.destroy();
    if (err instanceof BridgeOpenError || err instanceof RefusedByListener) throw err;
    const failure = new BridgeOpenError('relay-unavailable', `no answer to the preamble: ${(err as Error).message}`, stream.trackingId);
    throw err instanceof RelayTimeoutError ? failure : new LostBeforeAnswer(failure);
  }
}
