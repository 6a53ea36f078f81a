/**
 * Tunnels of relay-sender (port-forward, socks5-proxy, connect), aztunnel style: one relayed
 * connection (or multiplexed stream) per tunnel, the envelope as one text message
 * (`{"version":1,"target":..,"bridge_id":..}`), one text response from the listener, then bytes.
 * The connections come from a sender end (forwarding/sender-end.ts) with the senders' wait policy
 * (forwarding/relay-wait: permanent failures at once, 30 s of retries while no listener is there,
 * 10 s per attempt).
 */
import type { Duplex } from 'node:stream';
import type { HybridConnectionClient } from '../client/hybrid-connection-client.js';
import { RelayTimeoutError } from '../client/errors.js';
import type { HybridConnectionStream, RelayedMessage } from '../client/hybrid-connection-stream.js';
import type { EarlyBytes } from '../forwarding/early-bytes.js';
import { RELAY_WAIT_BUDGET_MS } from '../forwarding/relay-wait.js';
import { LostBeforeAnswer, SenderEnd } from '../forwarding/sender-end.js';
import { describePreambleReply, PreambleReplyDecoder } from '../protocol/azbridge-preamble.js';
import { AZTUNNEL_MAX_MESSAGE_BYTES, encodeConnectEnvelope, EnvelopeError, newTunnelId, parseConnectResponse, parseTarget, type ConnectResponse } from '../protocol/aztunnel-envelope.js';
import type { Logger } from '../util/logger.js';
import { closeQuietly, sendRelayMessage } from '../forwarding/relay-messages.js';
import { describeTunnelFailure, failureFromResponse, type TunnelFailure } from './tunnel-failures.js';

export const SENDER_RETRY_BUDGET_MS = RELAY_WAIT_BUDGET_MS;
export const SENDER_ATTEMPT_TIMEOUT_MS = 10_000;
/** The listener may spend its whole --connect-timeout (30 s by default) dialing before it answers. */
export const RESPONSE_TIMEOUT_MS = 45_000;

export class TunnelError extends Error {
  /** The relay's id of the connection the listener refused, when one was opened. */
  trackingId: string | undefined;

  constructor(
    readonly target: string,
    readonly failure: TunnelFailure,
    detail?: string,
    readonly response?: ConnectResponse,
  ) {
    super(describeTunnelFailure(target, failure, detail));
    this.name = 'TunnelError';
  }
}

export interface OpenedTunnel {
  /** The tunnel's bytes (messages of at most 32 KiB, for aztunnel peers). */
  stream: Duplex;
  /** The relay's id of the connection (sb-hc-id), as the relay and the listener log it. */
  trackingId: string;
  bridgeId: string;
  listenerId: string | undefined;
  /** The listener carries half-close (a hybridge one); an aztunnel listener does not (see pump). */
  peerHalfClose: boolean;
}

export interface TunnelSenderOptions {
  log: Logger;
  /** Relayed connections opened ahead of demand (`--prewarm`). */
  prewarm?: number;
  /** Multiplexed sessions kept open to hybridge listeners (`--mux`); 0 = one relayed connection per tunnel. */
  mux?: number;
  /** Keep-alive pings of each relayed connection (StreamOptions.keepAliveIntervalMs; default 30 s). */
  keepAliveIntervalMs?: number;
}

/** relay-sender's end: aztunnel-style session hellos, and aztunnel's retry budget and attempt limit. */
export function tunnelSenderEnd(client: HybridConnectionClient, options: TunnelSenderOptions): SenderEnd {
  return new SenderEnd(client, { ...options, style: 'aztunnel', retryBudgetMs: SENDER_RETRY_BUDGET_MS, attemptTimeoutMs: SENDER_ATTEMPT_TIMEOUT_MS });
}

/**
 * Opens a tunnel to `target` (`host:port`); throws TunnelError with a one-line reason. A relayed
 * connection that ends before the listener's response (the listener died after taking it, or a
 * prewarmed connection went stale) is tried again by the sender end, within the retry budget. The
 * client's first bytes (`early`) follow the envelope without waiting for the response, in messages
 * of at most 32 KiB (aztunnel's read limit), and are sent again on a retry: a listener reads the
 * envelope, dials, answers, and only then reads what follows.
 */
export async function openTunnel(end: SenderEnd, target: string, signal?: AbortSignal, early?: EarlyBytes): Promise<OpenedTunnel> {
  // A target the envelope cannot carry fails here (TargetError), before any relayed connection is used.
  parseTarget(target);
  return end.open({
    route: { logFields: { target } },
    budgetMs: SENDER_RETRY_BUDGET_MS,
    answerTimeoutMs: RESPONSE_TIMEOUT_MS,
    exchange: (stream, responseTimeoutMs) => exchangeEnvelope(stream, target, responseTimeoutMs, early),
    connectFailed: (err) => new TunnelError(target, 'relay_failed', err.message),
    signal,
    early,
    onRetry: (retry, reason) => end.log.info({ target, retry, reason }, 'relayed connection lost before the listener answered; trying again'),
  });
}

/** The aztunnel first exchange: the envelope (and the early bytes behind it), then the listener's response. */
async function exchangeEnvelope(stream: HybridConnectionStream, target: string, responseTimeoutMs: number, early: EarlyBytes | undefined): Promise<OpenedTunnel> {
  const bridgeId = newTunnelId();
  stream.on('error', () => undefined);
  const failure = (kind: TunnelFailure, detail?: string, response?: ConnectResponse): TunnelError => {
    closeQuietly(stream);
    const error = new TunnelError(target, kind, detail, response);
    error.trackingId = stream.trackingId;
    return error;
  };
  let answer: RelayedMessage | undefined;
  try {
    await sendRelayMessage(stream, encodeConnectEnvelope({ target, bridgeId, halfClose: true }));
    stream.setMaxOutgoingMessageBytes(AZTUNNEL_MAX_MESSAGE_BYTES);
    early?.sendTo(stream);
    answer = await stream.readMessage(responseTimeoutMs);
  } catch (err) {
    const detail = `the listener did not answer (${(err as Error).message})`;
    if (err instanceof RelayTimeoutError) throw failure('relay_failed', detail);
    throw new LostBeforeAnswer(failure('relay_failed', detail), detail);
  }
  if (!answer) {
    const detail = 'the listener closed the connection without answering';
    throw new LostBeforeAnswer(failure('relay_failed', detail), detail);
  }
  if (answer.binary) throw failure('rejected', binaryAnswerDetail(answer.data));
  let response: ConnectResponse;
  try {
    response = parseConnectResponse(answer.data);
  } catch (err) {
    throw failure('rejected', err instanceof EnvelopeError ? err.message : String(err));
  }
  if (!response.ok) throw failure(failureFromResponse(response), response.error, response);
  return { stream, trackingId: stream.trackingId, bridgeId, listenerId: response.listenerId, peerHalfClose: response.halfClose === true };
}

/** An azbridge-style listener answers our envelope with a binary preamble reply. */
function binaryAnswerDetail(data: Buffer): string {
  const step = new PreambleReplyDecoder().push(data);
  const reply = step.status === 'complete' ? describePreambleReply(step.value) : `${data.length} bytes of binary data`;
  return `it answered like an azbridge-style bridge, not a tunnel listener (${reply}); use "hybridge bridge -L" against it, or run "hybridge relay-listener" on this hybrid connection`;
}
