/**
 * The sender end of an aztunnel-style tunnel: one relayed connection per tunnel, the envelope as one
 * text message (`{"version":1,"target":..,"bridge_id":..}`), one text response from the listener,
 * then bytes. Connections come from the client with the senders' wait policy (forwarding/relay-wait:
 * permanent failures at once, 30 s of retries while no listener is there, 10 s per attempt) or from a
 * prewarmed pool.
 */
import type { Duplex } from 'node:stream';
import type { HybridConnectionClient } from '../client/hybrid-connection-client.js';
import { RelayTimeoutError } from '../client/errors.js';
import type { HybridConnectionStream, RelayedMessage } from '../client/hybrid-connection-stream.js';
import type { EarlyBytes } from '../forwarding/early-bytes.js';
import { RELAY_WAIT_BUDGET_MS, relayWaitProgress } from '../forwarding/relay-wait.js';
import { ReadyStreams } from '../forwarding/ready-streams.js';
import { describePreambleReply, PreambleReplyDecoder } from '../protocol/azbridge-preamble.js';
import { encodeConnectEnvelope, EnvelopeError, newTunnelId, parseConnectResponse, type ConnectResponse } from '../protocol/aztunnel-envelope.js';
import type { Logger } from '../util/logger.js';
import { AZTUNNEL_MAX_MESSAGE_BYTES } from '../protocol/aztunnel-envelope.js';
import { closeQuietly, sendRelayMessage } from '../forwarding/relay-messages.js';
import { describeTunnelFailure, failureFromResponse, type TunnelFailure } from './tunnel-failures.js';

export const SENDER_RETRY_BUDGET_MS = RELAY_WAIT_BUDGET_MS;
export const SENDER_ATTEMPT_TIMEOUT_MS = 10_000;
/** The listener may spend its whole --connect-timeout (30 s by default) dialing before it answers. */
export const DEFAULT_RESPONSE_TIMEOUT_MS = 45_000;
/** How often a relayed connection lost before the listener's response is tried again. */
export const MAX_RETRIES_BEFORE_RESPONSE = 3;

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
  retryBudgetMs?: number;
  attemptTimeoutMs?: number;
  responseTimeoutMs?: number;
  /** Keep-alive pings of each relayed connection (StreamOptions.keepAliveIntervalMs; default 30 s). */
  keepAliveIntervalMs?: number;
}

export class TunnelSender {
  private readonly ready: ReadyStreams;

  constructor(
    private readonly client: HybridConnectionClient,
    private readonly options: TunnelSenderOptions,
  ) {
    const connectOptions = { retryBudgetMs: this.retryBudgetMs, attemptTimeoutMs: this.attemptTimeoutMs, keepAliveIntervalMs: options.keepAliveIntervalMs };
    this.ready = new ReadyStreams(client, { prewarm: options.prewarm, mux: options.mux, style: 'aztunnel', log: options.log, connectOptions });
  }

  /** The hybrid connection the tunnels go through. */
  get hyco(): string {
    return this.client.connection.entityPath ?? '';
  }

  private get retryBudgetMs(): number {
    return this.options.retryBudgetMs ?? SENDER_RETRY_BUDGET_MS;
  }

  private get attemptTimeoutMs(): number {
    return this.options.attemptTimeoutMs ?? SENDER_ATTEMPT_TIMEOUT_MS;
  }

  /**
   * Opens a tunnel to `target` (`host:port`); throws TunnelError with a one-line reason. A relayed
   * connection that ends before the listener's response (the listener died after taking it, or a
   * prewarmed connection went stale) is tried again, up to MAX_RETRIES_BEFORE_RESPONSE times within
   * the retry budget. The client's first bytes (`early`) follow the envelope without waiting for
   * the response, in messages of at most 32 KiB (aztunnel's read limit), and are sent again on a
   * retry: a listener reads the envelope, dials, answers, and only then reads what follows.
   */
  async open(target: string, signal?: AbortSignal, early?: EarlyBytes): Promise<OpenedTunnel> {
    const started = Date.now();
    for (let retry = 1; ; retry++) {
      let outcome;
      try {
        outcome = await this.openOnce(target, signal, early);
      } catch (err) {
        early?.detach();
        throw err;
      }
      if (!('lost' in outcome)) return outcome;
      early?.detach();
      const again = retry <= MAX_RETRIES_BEFORE_RESPONSE && !signal?.aborted && Date.now() - started < this.retryBudgetMs;
      if (!again) throw new TunnelError(target, 'relay_failed', outcome.lost);
      this.options.log.info({ target, retry, reason: outcome.lost }, 'relayed connection lost before the listener answered; trying again');
    }
  }

  private async openOnce(target: string, signal: AbortSignal | undefined, early: EarlyBytes | undefined): Promise<OpenedTunnel | { lost: string }> {
    const bridgeId = newTunnelId();
    const envelope = encodeConnectEnvelope({ target, bridgeId, halfClose: true });
    let stream: HybridConnectionStream;
    try {
      // A stream of a multiplexed session or a prewarmed connection costs no relay round trip; without one ready, a connection of its own.
      stream =
        this.ready.take() ??
        (await this.client.createConnection({
          retryBudgetMs: this.retryBudgetMs,
          attemptTimeoutMs: this.attemptTimeoutMs,
          keepAliveIntervalMs: this.options.keepAliveIntervalMs,
          signal,
          onRetry: relayWaitProgress(this.options.log, { target }, this.client.connection.entityPath),
        }));
    } catch (err) {
      throw new TunnelError(target, 'relay_failed', (err as Error).message);
    }
    stream.on('error', () => undefined);
    const fail = (failure: TunnelFailure, detail?: string, response?: ConnectResponse): never => {
      closeQuietly(stream);
      const error = new TunnelError(target, failure, detail, response);
      error.trackingId = stream.trackingId;
      throw error;
    };
    let answer: RelayedMessage | undefined;
    try {
      await sendRelayMessage(stream, envelope);
      stream.setMaxOutgoingMessageBytes(AZTUNNEL_MAX_MESSAGE_BYTES);
      early?.sendTo(stream);
      answer = await stream.readMessage(this.options.responseTimeoutMs ?? DEFAULT_RESPONSE_TIMEOUT_MS);
    } catch (err) {
      if (err instanceof RelayTimeoutError) return fail('relay_failed', `the listener did not answer (${err.message})`);
      closeQuietly(stream);
      return { lost: `the listener did not answer (${(err as Error).message})` };
    }
    if (!answer) {
      closeQuietly(stream);
      return { lost: 'the listener closed the connection without answering' };
    }
    if (answer.binary) return fail('rejected', binaryAnswerDetail(answer.data));
    let response: ConnectResponse;
    try {
      response = parseConnectResponse(answer.data);
    } catch (err) {
      return fail('rejected', err instanceof EnvelopeError ? err.message : String(err));
    }
    if (!response.ok) return fail(failureFromResponse(response), response.error, response);
    return { stream, trackingId: stream.trackingId, bridgeId, listenerId: response.listenerId, peerHalfClose: response.halfClose === true };
  }

  /** Prewarmed connections ready now; undefined without `--prewarm`. */
  get prewarmReady(): number | undefined {
    return this.ready.prewarmReady;
  }

  close(): void {
    this.ready.close();
    this.client.close();
  }
}

/** An azbridge-style listener answers our envelope with a binary preamble reply. */
function binaryAnswerDetail(data: Buffer): string {
  const step = new PreambleReplyDecoder().push(data);
  const reply = step.status === 'complete' ? describePreambleReply(step.value) : `${data.length} bytes of binary data`;
  return `it answered like an azbridge-style bridge, not a tunnel listener (${reply}); use "hybridge bridge -L" against it, or run "hybridge relay-listener" on this hybrid connection`;
}
