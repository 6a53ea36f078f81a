import { AuthorizationFailedError, type HybridConnectionClient, type HybridConnectionStream } from '../../client/index.js';
import { SenderPool } from '../../forwarding/sender-pool.js';
import type { Logger } from '../../util/logger.js';
import { sleep } from '../../util/sleep.js';

export interface SenderConnectorOptions {
  /** ConnectionAttempts: tries, one second apart (1..10). */
  attempts: number;
  /** ConnectTimeout: limit for one try; undefined keeps the client library's default. */
  attemptTimeoutMs?: number;
  /** Prewarm: sender connections kept open ahead of demand (0 = none). */
  prewarm: number;
  log: Logger;
}

const ATTEMPT_INTERVAL_MS = 1000;

/**
 * Where a local forwarder gets its relayed connections: a prewarmed one when the pool has one ready,
 * else a new one, tried up to ConnectionAttempts times one second apart, each try limited by
 * ConnectTimeout. An authorization failure is not retried (another try cannot fix it).
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
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.client.createConnection({ retryBudgetMs: 0, attemptTimeoutMs: this.options.attemptTimeoutMs, signal });
      } catch (err) {
        if (attempt >= this.options.attempts || err instanceof AuthorizationFailedError || signal?.aborted) throw err;
        this.options.log.debug({ attempt, of: this.options.attempts, reason: (err as Error).message }, 'relay connection attempt failed; retrying');
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
