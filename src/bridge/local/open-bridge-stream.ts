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
import type { ConnectRoute, SenderConnector } from './sender-connector.js';

export class BridgeOpenError extends Error {
  constructor(
    readonly failure: ConnectionEnd,
    message: string,
    /** The relayed connection was lost before the remote side answered: another try is safe. */
    readonly lostBeforeReply = false,
    /** The relay's id of the connection that was refused, when one was opened. */
    readonly trackingId?: string,
    /** A hybridge listener that refused the port name, by id: another listener may serve it. */
    readonly refusingListener?: string,
  ) {
    super(message);
    this.name = 'BridgeOpenError';
  }
}

export type RetryCause = 'lost' | 'port-refused';

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

/** How often a relayed connection lost before the remote's reply is tried again. */
export const MAX_RETRIES_BEFORE_REPLY = 3;
/**
 * How many listeners that refused the port name are passed over (Microsoft-Relay-DisallowedListeners)
 * before the refusal stands: behind Azure Relay, which cannot route by port name, a sender reaches a
 * random listener of the hybrid connection, and azbridge-compatible pools mix listeners of different ports.
 */
export const MAX_PORT_REFUSALS = 8;

/**
 * Opens a relayed connection for one logical port (openOnce), and tries again when the relayed
 * connection is lost before the remote side answered the preamble: the listener it reached died
 * (one of a pool of listeners killed between taking the connection and answering) or a prewarmed
 * connection had gone stale. The client's bytes sent behind the preamble are kept (`early`) and
 * sent again on the next try; a peer that did not accept the preamble has not passed them on. Retries stay within `replyTimeoutMs` and stop when the
 * client goes away. A refusal, a clean close without reply, or a reply timeout is not retried.
 */
export async function openBridgeStream(connector: SenderConnector, preamble: Preamble, options: OpenBridgeStreamOptions): Promise<HybridConnectionStream> {
  const deadline = Date.now() + options.replyTimeoutMs;
  const refusedBy: string[] = [];
  let refusal: BridgeOpenError | undefined;
  let lost = 0;
  for (let retry = 1; ; retry++) {
    try {
      const route = { portName: preamble.portName, disallowedListeners: refusedBy };
      return await openOnce(connector, preamble, { replyTimeoutMs: Math.max(1, deadline - Date.now()), signal: options.signal, route, early: options.early });
    } catch (err) {
      options.early?.detach();
      // No other listener to try after a refusal of the port: the refusal is the answer.
      if (refusal && err instanceof BridgeOpenError && err.failure === 'relay-unavailable') throw refusal;
      if (!(err instanceof BridgeOpenError) || options.signal?.aborted || Date.now() >= deadline) throw err;
      if (err.refusingListener !== undefined) refusal = err;
      const refusedHere = err.refusingListener !== undefined && !refusedBy.includes(err.refusingListener) && refusedBy.length < MAX_PORT_REFUSALS;
      if (refusedHere) refusedBy.push(err.refusingListener!);
      else if (!err.lostBeforeReply || ++lost > MAX_RETRIES_BEFORE_REPLY) throw err;
      options.onRetry?.(retry, err.message, refusedHere ? 'port-refused' : 'lost');
    }
  }
}

/**
 * Opens a relayed connection for one logical port: connects (or takes a prewarmed connection),
 * writes the preamble `01 00 mode len name`, and waits for the reply. Only `01 00 mode` lets the
 * connection through; hybridge's refusals are turned into a message that names the port and the
 * reason, so a port-name mismatch is never a silent EOF. Bytes after the reply stay in the stream.
 */
async function openOnce(connector: SenderConnector, preamble: Preamble, options: { replyTimeoutMs: number; signal?: AbortSignal; route: ConnectRoute; early?: EarlyBytes }): Promise<HybridConnectionStream> {
  let stream: HybridConnectionStream;
  try {
    stream = await connector.connect(options.signal, options.route);
  } catch (err) {
    const tried = options.route.disallowedListeners?.length;
    const after = tried ? ` (after ${tried} listener(s) refused port "${preamble.portName}")` : '';
    throw new BridgeOpenError('relay-unavailable', `${(err as Error).message}${after}`);
  }
  stream.on('error', () => undefined);
  try {
    await stream.sendMessage(encodePreamble(preamble));
    // Datagrams are framed per flow and wait for the reply; only streams carry early bytes.
    if (preamble.mode === PreambleMode.Stream) options.early?.sendTo(stream);
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
      const refusing = reply.kind === 'unknown-port-name' ? listenerIdInReason(reply.reason) : undefined;
      const shown = reply.kind === 'unknown-port-name' ? { ...reply, reason: withoutListenerId(reply.reason) } : reply;
      throw new BridgeOpenError(failure, `port "${preamble.portName}" refused by the remote side: ${describePreambleReply(shown)}`, false, undefined, refusing);
    }
    return stream;
  } catch (err) {
    stream.destroy();
    if (err instanceof BridgeOpenError) throw new BridgeOpenError(err.failure, err.message, err.lostBeforeReply, stream.trackingId, err.refusingListener);
    throw new BridgeOpenError('relay-unavailable', `no answer to the preamble: ${(err as Error).message}`, !(err instanceof RelayTimeoutError), stream.trackingId);
  }
}
