import { RelayError, type HybridConnectionClient, type HybridConnectionStream } from '../../client/index.js';
import { RELAY_WAIT_BUDGET_MS, relayWaitProgress } from '../../forwarding/relay-wait.js';
import { SenderPool } from '../../forwarding/sender-pool.js';
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
  log: Logger;
}

const ATTEMPT_INTERVAL_MS = 1000;

/**
 * Where a local forwarder gets its relayed connections: a prewarmed one when the pool has one ready,
 * else a new one, with the senders' wait policy (forwarding/relay-wait.ts), or, when
 * ConnectionAttempts is set, tried that many times one second apart. Each try is limited by
 * ConnectTimeout; a failure no retry can fix (authorization, no such hybrid connection, connection
 * refused) is never retried.
 */
export class SenderConnector {
  private readonly pool: SenderPool | undefined;

  constructor(
    private readonly client: HybridConnectionClient,
    private readonly options: SenderConnectorOptions,
  ) {
    if (options.prewarm > 0) {
      this.pool = new SenderPool(client, {
        size: options.prewarm,
        log: options.log,
        connectOptions: { retryBudgetMs: 0, attemptTimeoutMs: options.attemptTimeoutMs },
      });
    }
  }

  async connect(signal?: AbortSignal): Promise<HybridConnectionStream> {
    if (this.pool && this.pool.readyCount > 0) return this.pool.take();
    const { attempts, attemptTimeoutMs, log } = this.options;
    if (attempts === undefined) {
      const onRetry = relayWaitProgress(log, { relay: this.options.relayName }, this.options.relayName);
      return this.client.createConnection({ retryBudgetMs: RELAY_WAIT_BUDGET_MS, attemptTimeoutMs, signal, onRetry });
    }
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.client.createConnection({ retryBudgetMs: 0, attemptTimeoutMs, signal });
      } catch (err) {
        if (attempt >= attempts || !(err instanceof RelayError && err.transient) || signal?.aborted) throw err;
        log.debug({ attempt, of: attempts, reason: err.message }, 'relay connection attempt failed; retrying');
        await sleep(ATTEMPT_INTERVAL_MS, signal);
      }
    }
  }

  /** Prewarmed connections ready now; undefined without a prewarm pool. */
  get prewarmReady(): number | undefined {
    return this.pool?.readyCount;
  }

  close(): void {
    this.pool?.close();
  }
}
