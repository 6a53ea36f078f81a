import type { CreateConnectionOptions, HybridConnectionClient } from '../client/hybrid-connection-client.js';
import type { HybridConnectionStream } from '../client/hybrid-connection-stream.js';
import type { Logger } from '../util/logger.js';
import { clearTimer } from '../util/clear-timer.js';

export interface SenderPoolOptions {
  /** Connections kept open ahead of demand. */
  size: number;
  /**
   * A pooled connection older than this is replaced, so the listener end never times it out
   * (aztunnel listeners wait 30 s for the first message).
   */
  maxIdleMs?: number;
  connectOptions?: CreateConnectionOptions;
  log: Logger;
}

interface Pooled {
  stream: HybridConnectionStream;
  createdAt: number;
}

const BACKOFF_MS = [250, 1000, 2000, 5000, 10_000, 30_000];

/**
 * Relayed connections opened before they are needed, so a new client connection starts without
 * waiting for a relay round trip and a rendezvous (`--prewarm N`). take() hands one over when one
 * is ready; otherwise the caller opens a connection with its own policy.
 */
export class SenderPool {
  private readonly ready: Pooled[] = [];
  private opening = 0;
  private failures = 0;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly recycleTimer: NodeJS.Timeout;
  private readonly maxIdleMs: number;

  constructor(
    private readonly client: HybridConnectionClient,
    private readonly options: SenderPoolOptions,
  ) {
    this.maxIdleMs = options.maxIdleMs ?? 25_000;
    this.recycleTimer = setInterval(() => this.recycle(), Math.max(1000, Math.floor(this.maxIdleMs / 5)));
    this.recycleTimer.unref();
    this.fill();
  }

  get readyCount(): number {
    return this.ready.length;
  }

  /** A pooled connection that is still usable, or undefined when none is; the pool refills either way. */
  take(): HybridConnectionStream | undefined {
    let taken: HybridConnectionStream | undefined;
    while (!taken && this.ready.length > 0) {
      const pooled = this.ready.shift()!;
      pooled.stream.removeAllListeners('close');
      if (usable(pooled.stream)) taken = pooled.stream;
    }
    this.fill();
    return taken;
  }

  close(): void {
    this.closed = true;
    clearTimer(this.recycleTimer);
    clearTimer(this.retryTimer);
    for (const pooled of this.ready.splice(0)) pooled.stream.end();
  }

  private fill(): void {
    if (this.closed || this.retryTimer) return;
    while (this.ready.length + this.opening < this.options.size) {
      this.opening++;
      this.client.createConnection({ ...this.options.connectOptions, retryBudgetMs: 0 }).then(
        (stream) => {
          this.opening--;
          this.failures = 0;
          if (this.closed) return void stream.end();
          const pooled = { stream, createdAt: Date.now() };
          this.ready.push(pooled);
          // A pooled connection that dies is dropped and replaced.
          stream.once('close', () => {
            const i = this.ready.indexOf(pooled);
            if (i >= 0) this.ready.splice(i, 1);
            this.fill();
          });
          stream.on('error', () => undefined);
        },
        (err: Error) => {
          this.opening--;
          const wait = BACKOFF_MS[Math.min(this.failures++, BACKOFF_MS.length - 1)]!;
          if (this.failures === 1 || this.failures % 10 === 0) this.options.log.warn({ reason: err.message, retryInMs: wait }, 'prewarm: could not open a spare connection');
          if (!this.closed && !this.retryTimer) {
            this.retryTimer = setTimeout(() => {
              this.retryTimer = undefined;
              this.fill();
            }, wait);
            this.retryTimer.unref();
          }
        },
      );
    }
  }

  private recycle(): void {
    const now = Date.now();
    for (const pooled of [...this.ready]) {
      if (now - pooled.createdAt < this.maxIdleMs) continue;
      this.ready.splice(this.ready.indexOf(pooled), 1);
      pooled.stream.removeAllListeners('close');
      pooled.stream.end();
    }
    this.fill();
  }
}

function usable(stream: HybridConnectionStream): boolean {
  return !stream.destroyed && !stream.writableEnded && stream.closeCode === 1006;
}
