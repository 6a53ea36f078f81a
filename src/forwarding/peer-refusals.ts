/**
 * How a listener end turns away a sender whose peer protocol its configuration does not serve, in
 * that protocol's own words, so the sender reports a reason instead of a silent close: a bridge
 * without --allow refuses aztunnel envelopes, a relay-listener without --bridge-target refuses
 * azbridge preambles. Both grammars mount these; the handlers that serve each protocol use
 * answerAndClose for their own refusals.
 */
import type { HybridConnectionStream, RelayedMessage } from '../client/hybrid-connection-stream.js';
import { encodePreambleReply, PreambleDecoder } from '../protocol/azbridge-preamble.js';
import { encodeConnectResponse, type ConnectResponse } from '../protocol/aztunnel-envelope.js';
import { readDecoded } from './read-decoded.js';
import { refuseStream } from './refuse-stream.js';
import { closeQuietly, sendRelayMessage } from './relay-messages.js';

/** Answers an aztunnel envelope with `response` (one text message) and closes, whether or not the sender is still there. */
export async function answerAndClose(stream: HybridConnectionStream, response: ConnectResponse): Promise<void> {
  try {
    await sendRelayMessage(stream, encodeConnectResponse(response));
  } catch {
    // The sender is gone; nothing left to tell it.
  }
  closeQuietly(stream);
}

/** Refuses a tunnel request: answers the envelope with `{"ok":false,"error":reason}` and closes. */
export async function rejectAztunnelConnection(stream: HybridConnectionStream, _first: RelayedMessage, reason: string): Promise<void> {
  stream.on('error', () => undefined);
  await answerAndClose(stream, { ok: false, error: reason });
}

/**
 * Refuses an azbridge sender: reads its preamble, answers `00 00 FE` with `reason`, and closes. An
 * azbridge local side sees a refusal; a hybridge local side logs the reason.
 */
export async function rejectAzbridgeConnection(stream: HybridConnectionStream, first: RelayedMessage, reason: string): Promise<void> {
  stream.on('error', () => undefined);
  const decoder = new PreambleDecoder();
  try {
    const outcome = await readDecoded(stream, (chunk) => decoder.push(chunk), 10_000, first.data);
    if (outcome.status === 'ended') return await refuseStream(stream, undefined, 1000);
    if (outcome.status === 'complete' && !outcome.value.ok && outcome.value.problem === 'unsupported-version') {
      return await refuseStream(stream, encodePreambleReply({ kind: 'unsupported-version' }));
    }
  } catch {
    stream.destroy();
    return;
  }
  await refuseStream(stream, encodePreambleReply({ kind: 'unknown-port-name', reason }));
}
