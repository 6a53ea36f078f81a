/**
 * The sender end of a hybrid connection, as bridge -L and relay-sender (port-forward, socks5-proxy,
 * connect) configure it: where a client connection's relayed connection comes from (a stream of a
 * multiplexed session, a prewarmed connection, or a new one with the senders' wait policy), and the
 * retries around the first exchange with the listener. What differs between the two grammars is the
 * first exchange itself (an azbridge preamble and its reply, an aztunnel envelope and its response),
 * which the caller passes to open().
 */
import { RelayError } from '../client/errors.js';
import type { HybridConnectionClient } from '../client/hybrid-connection-client.js';
import type { HybridConnectionStream } from '../client/hybrid-connection-stream.js';
import type { HelloStyle } from '../mux/negotiation.js';
import { encodePortName, PORT_HEADER } from '../protocol/port-announcement.js';
import type { Logger } from '../util/logger.js';
import { sleep } from '../util/sleep.js';
import type { EarlyBytes } from './early-bytes.js';
import { ReadyStreams } from './ready-streams.js';
import { RELAY_WAIT_BUDGET_MS, relayWaitProgress } from './relay-wait.js';

export interface SenderEndOptions {
  /** The multiplexed sessions' hello: azbridge style for bridge -L, aztunnel style for relay-sender. */
  style: HelloStyle;
  /** Relayed connections kept open ahead of demand (`--prewarm`, Prewarm); 0 = none. */
  prewarm?: number;
  /** Multiplexed sessions kept open to a hybridge listener side (`--mux`); 0 = none. */
  mux?: number;
  /** ConnectionAttempts: tries one second apart (1..10); undefined waits as every sender does (relay-wait). */
  attempts?: number;
  /** How long transient failures are retried when `attempts` is not set (default RELAY_WAIT_BUDGET_MS). */
  retryBudgetMs?: number;
  /** Limit for one try (ConnectTimeout), and for opening one multiplexed session. */
  attemptTimeoutMs?: number;
  /** Keep-alive pings of each relayed connection (StreamOptions.keepAliveIntervalMs). */
  keepAliveIntervalMs?: number;
  log: Logger;
}

/** What a new relayed connection is for. */
export interface SenderRoute {
  /** The logical port (Hybridge-Port, so the hybridge relay routes the connection by it). */
  portName?: string;
  /** Listeners that refused the port already (Microsoft-Relay-DisallowedListeners). */
  disallowedListeners?: readonly string[];
  /** Fields of the log line that reports a wait for the relay or a listener. */
  logFields: Record<string, unknown>;
}

/** Thrown by a first exchange: the connection was lost before the listener answered, so another try is safe. */
export class LostBeforeAnswer extends Error {
  /** `failure` is what the caller sees when no try is left; `reason`, what the retry's log line says. */
  constructor(
    readonly failure: Error,
    reason = failure.message,
  ) {
    super(reason);
    this.name = 'LostBeforeAnswer';
  }
}

/** Thrown by a first exchange: a listener refused the port; another listener of the hybrid connection may serve it. */
export class RefusedByListener extends Error {
  constructor(
    readonly failure: Error,
    readonly listenerId: string,
  ) {
    super(failure.message);
    this.name = 'RefusedByListener';
  }
}

export type RetryCause = 'lost' | 'port-refused';

/** How often a relayed connection lost before the listener's answer is tried again. */
export const MAX_RETRIES_BEFORE_ANSWER = 3;
/**
 * How many listeners that refused the port name are passed over (Microsoft-Relay-DisallowedListeners)
 * before the refusal stands: behind Azure Relay, which cannot route by port name, a sender reaches a
 * random listener of the hybrid connection, and azbridge-compatible pools mix listeners of different ports.
 */
export const MAX_PORT_REFUSALS = 8;

export interface SenderOpen<T> {
  route: SenderRoute;
  /** No try starts after this long; a try's answer is awaited for what is left of it when the try starts, unless answerTimeoutMs says otherwise. */
  budgetMs: number;
  /** How long one try waits for the listener's answer. */
  answerTimeoutMs?: number;
  /**
   * Sends the first message on `stream` (and the early bytes behind it) and reads the answer. It
   * throws LostBeforeAnswer or RefusedByListener when another try may succeed; anything else it
   * throws is the outcome. It owns the stream once it failed (closes it).
   */
  exchange(stream: HybridConnectionStream, answerTimeoutMs: number): Promise<T>;
  /** The error the caller sees when no relayed connection could be opened. */
  connectFailed(err: Error): Error;
  signal?: AbortSignal;
  /** The client's first bytes: detached after a failed try, so the next one sends them again. */
  early?: EarlyBytes;
  /** Called before another try. */
  onRetry?(retry: number, reason: string, why: RetryCause): void;
}

const ATTEMPT_INTERVAL_MS = 1000;

export class SenderEnd {
  private readonly ready: ReadyStreams;

  constructor(
    private readonly client: HybridConnectionClient,
    private readonly options: SenderEndOptions,
  ) {
    this.ready = new ReadyStreams(client, {
      prewarm: options.prewarm,
      mux: options.mux,
      style: options.style,
      log: options.log,
      connectOptions: { attemptTimeoutMs: options.attemptTimeoutMs, keepAliveIntervalMs: options.keepAliveIntervalMs },
      muxOpenTimeoutMs: options.attemptTimeoutMs,
    });
  }

  /** The hybrid connection the end sends to. */
  get hyco(): string {
    return this.client.connection.entityPath ?? '';
  }

  get log(): Logger {
    return this.options.log;
  }

  /**
   * Opens a relayed connection and runs the first exchange on it, trying again while a try is
   * lost before its answer (the listener it reached died, or a prewarmed connection went stale), up
   * to MAX_RETRIES_BEFORE_ANSWER times, and passing over listeners that refuse the port, up to
   * MAX_PORT_REFUSALS, all within the budget and while the client is there.
   */
  async open<T>(plan: SenderOpen<T>): Promise<T> {
    const deadline = Date.now() + plan.budgetMs;
    const refusedBy: string[] = [];
    let refusal: Error | undefined;
    let lost = 0;
    for (let retry = 1; ; retry++) {
      // The answer's limit is set before connecting: the time a connect spent waiting for the
      // relay or a listener is not taken from the time the listener has to dial its target.
      const answerTimeoutMs = plan.answerTimeoutMs ?? Math.max(1, deadline - Date.now());
      let stream: HybridConnectionStream;
      try {
        stream = await this.connect({ ...plan.route, disallowedListeners: refusedBy }, plan.signal);
      } catch (err) {
        plan.early?.detach();
        // No other listener to try after a refusal of the port: the refusal is the answer.
        throw refusal ?? plan.connectFailed(err as Error);
      }
      try {
        return await plan.exchange(stream, answerTimeoutMs);
      } catch (err) {
        plan.early?.detach();
        const again = !plan.signal?.aborted && Date.now() < deadline;
        if (err instanceof RefusedByListener) {
          refusal = err.failure;
          if (!again || refusedBy.includes(err.listenerId) || refusedBy.length >= MAX_PORT_REFUSALS) throw err.failure;
          refusedBy.push(err.listenerId);
          plan.onRetry?.(retry, err.message, 'port-refused');
        } else if (err instanceof LostBeforeAnswer) {
          if (refusal) throw refusal;
          if (!again || ++lost > MAX_RETRIES_BEFORE_ANSWER) throw err.failure;
          plan.onRetry?.(retry, err.message, 'lost');
        } else {
          throw err;
        }
      }
    }
  }

  /**
   * A stream of a multiplexed session (no relay round trip) or a prewarmed connection (opened
   * before its port was known, so not routed by port name) when one is ready and no listener is to
   * be avoided; else a new relayed connection that names its port, with the senders' wait policy
   * (forwarding/relay-wait.ts) or, when ConnectionAttempts is set, tried that many times one second
   * apart. A failure no retry can fix (authorization, no such hybrid connection, connection
   * refused) is never retried.
   */
  async connect(route: SenderRoute, signal?: AbortSignal): Promise<HybridConnectionStream> {
    const avoid = route.disallowedListeners?.length ? [...route.disallowedListeners] : undefined;
    const ready = avoid ? undefined : this.ready.take();
    if (ready) return ready;
    const { attempts, attemptTimeoutMs, keepAliveIntervalMs, log } = this.options;
    const base = {
      headers: route.portName !== undefined ? { [PORT_HEADER]: encodePortName(route.portName) } : undefined,
      disallowedListeners: avoid,
      attemptTimeoutMs,
      keepAliveIntervalMs,
      signal,
    };
    // Passing over listeners that refused the port: when none is left, the refusal stands at once.
    if (avoid) return this.client.createConnection({ ...base, retryBudgetMs: 0 });
    if (attempts === undefined) {
      const onRetry = relayWaitProgress(log, route.logFields, this.hyco);
      return this.client.createConnection({ ...base, retryBudgetMs: this.options.retryBudgetMs ?? RELAY_WAIT_BUDGET_MS, onRetry });
    }
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.client.createConnection({ ...base, retryBudgetMs: 0 });
      } catch (err) {
        if (attempt >= attempts || !(err instanceof RelayError && err.transient) || signal?.aborted) throw err;
        log.debug({ attempt, of: attempts, reason: err.message }, 'relay connection attempt failed; retrying');
        await sleep(ATTEMPT_INTERVAL_MS, signal);
      }
    }
  }

  /** Prewarmed connections ready now; undefined without a prewarm pool. */
  get prewarmReady(): number | undefined {
    return this.ready.prewarmReady;
  }

  close(): void {
    this.ready.close();
    this.client.close();
  }
}
