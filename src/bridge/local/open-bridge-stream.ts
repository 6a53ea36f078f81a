import type { HybridConnectionStream } from '../../client/index.js';
import {
  describePreambleReply,
  encodePreamble,
  isAcceptedFor,
  PreambleReplyDecoder,
  type Preamble,
  type PreambleReply,
} from '../../protocol/azbridge-preamble.js';
import type { SetupFailure } from '../connection-log.js';
import { readDecoded } from '../read-messages.js';
import type { SenderConnector } from './sender-connector.js';

export class BridgeOpenError extends Error {
  constructor(
    readonly failure: SetupFailure,
    message: string,
  ) {
    super(message);
    this.name = 'BridgeOpenError';
  }
}

/**
 * Opens a relayed connection for one logical port: connects (or takes a prewarmed connection),
 * writes the preamble `01 00 mode len name`, and waits for the reply. Only `01 00 mode` lets the
 * connection through; hybridge's refusals are turned into a message that names the port and the
 * reason, so a port-name mismatch is never a silent EOF. Bytes after the reply stay in the stream.
 */
export async function openBridgeStream(
  connector: SenderConnector,
  preamble: Preamble,
  options: { replyTimeoutMs: number; signal?: AbortSignal },
): Promise<HybridConnectionStream> {
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
      const failure: SetupFailure = reply.kind === 'unknown-port-name' ? 'unknown-port' : reply.kind === 'target-unreachable' ? 'target-unreachable' : 'refused';
      throw new BridgeOpenError(failure, `port "${preamble.portName}" refused by the remote side: ${describePreambleReply(reply)}`);
    }
    return stream;
  } catch (err) {
    stream.destroy();
    if (err instanceof BridgeOpenError) throw err;
    throw new BridgeOpenError('relay-unavailable', `no answer to the preamble: ${(err as Error).message}`);
  }
}
