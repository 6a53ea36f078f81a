import { RelayError, type HybridConnectionClient, type HybridConnectionStream } from '../../client/index.js';
import { RELAY_WAIT_BUDGET_MS, relayWaitProgress } from '../../forwarding/relay-wait.js';
import { ReadyStreams } from '../../forwarding/ready-streams.js';
import { encodePortName, PORT_HEADER } from '../../protocol/port-announcement.js';
import type { Logger } from '../../util/logger.js';
import { sleep } from '../../util/sleep.js';

export interface SenderConnectorOptions {
  /** ConnectionAttempts: tries, one second apart (1..10); undefined waits as every sender does (relay-wait). */
  attempts: number | undefined;
  relayName: string;
  /** ConnectTimeout: limit for one try; undefined keeps the client library's default. */
  attemptTimeoutMs?: number;
  /** Prewarm: sender connections kept open ahead of demand (0 = none). */
  prewarm: number;
  /** Multiplexed sessions kept open to a hybridge listener side (`--mux`); 0 = off. */
  mux?: number;
  log: Logger;
}

const ATTEMPT_INTERVAL_MS = 1000;

/** What a connection is for: its port name (Hybridge-Port, so the hybridge relay routes it) and listeners to avoid. */
export interface ConnectRoute {
  portName: string;
  /** Listeners that refused this port already (Microsoft-Relay-DisallowedListeners). */
  disallowedListeners?: readonly string[];
}

/**
 * Where a local forwarder gets its relayed connections: a prewarmed one when the pool has one ready,
 * else a new one, with the senders' wait policy (forwarding/relay-wait.ts), or, when
 * ConnectionAttempts is set, tried that many times one second apart. Each try is limited by
 * ConnectTimeout; a failure no retry can fix (authorization, no such hybrid connection, connection
 * refused) is never retried.
 */
export class SenderConnector {
  private readonly ready: ReadyStreams;

  constructor(
    private readonly client: HybridConnectionClient,
    private readonly options: SenderConnectorOptions,
  ) {
    this.ready = new ReadyStreams(client, {
      prewarm: options.prewarm,
      mux: options.mux,
      style: 'azbridge',
      log: options.log,
      connectOptions: { retryBudgetMs: 0, attemptTimeoutMs: options.attemptTimeoutMs },
      muxOpenTimeoutMs: options.attemptTimeoutMs,
    });
  }

  /**
   * A stream of a multiplexed session (no relay round trip) or a prewarmed connection (opened
   * before its port was known, so not routed by port name) when one is ready and no listener is to
   * be avoided; else a new connection that names its port.
   */
  async connect(signal?: AbortSignal, route?: ConnectRoute): Promise<HybridConnectionStream> {
    const avoid = route?.disallowedListeners?.length ? [...route.disallowedListeners] : undefined;
    const ready = avoid ? undefined : this.ready.take();
    if (ready) return ready;
    const { attempts, attemptTimeoutMs, log } = this.options;
    const routing = { headers: route ? { [PORT_HEADER]: encodePortName(route.portName) } : undefined, disallowedListeners: avoid };
    // Passing over listeners that refused the port: when none is left, the refusal stands at once.
    if (avoid) return this.client.createConnection({ ...routing, retryBudgetMs: 0, attemptTimeoutMs, signal });
    if (attempts === undefined) {
      const onRetry = relayWaitProgress(log, { relay: this.options.relayName }, this.options.relayName);
      return this.client.createConnection({ ...routing, retryBudgetMs: RELAY_WAIT_BUDGET_MS, attemptTimeoutMs, signal, onRetry });
    }
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.client.createConnection({ ...routing, retryBudgetMs: 0, attemptTimeoutMs, signal });
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
