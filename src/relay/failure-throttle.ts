import type { LogLimiter } from './log-limiter.js';
import { clearTimer } from '../util/clear-timer.js';

export interface FailureLine {
  message: string;
  fields: Record<string, unknown>;
}

/**
 * The one throttle every failure path of the relay goes through (refused listeners, senders, HTTP
 * requests, management calls and rendezvous addresses). It makes repeated failures from one
 * address cheap for the relay and slow for the client: hyco-ws reconnects with no back-off at all
 * (about 900 attempts a second after a 401). Past `burst` failures in a window, further answers to
 * that address are held back by `delayMs`. Log lines go through a LogLimiter, so a flood from many
 * addresses is summed up too.
 */
export class FailureThrottle {
  private readonly windows = new Map<string, { start: number; count: number }>();
  private held = 0;
  private readonly sweep: NodeJS.Timeout;

  constructor(
    private readonly lines: LogLimiter,
    private readonly burst = 20,
    private readonly windowMs = 1000,
    private readonly delayMs = 1000,
    private readonly maxHeld = 2000,
  ) {
    this.sweep = setInterval(() => this.prune(), 10_000);
    this.sweep.unref();
  }

  /** Records a failure of `address`, logs `line` (rate-limited) and runs `answer` now or after the delay; returns the delay. */
  fail(address: string, answer: () => void, line?: FailureLine): number {
    if (line) this.lines.info(line.fields, line.message);
    const delayMs = this.note(address);
    this.hold(delayMs, answer);
    return delayMs;
  }

  /** Records a failure; returns how long to wait before answering it (0 = now). */
  note(address: string, now = Date.now()): number {
    let w = this.windows.get(address);
    if (!w || now - w.start >= this.windowMs) {
      w = { start: now, count: 0 };
      this.windows.set(address, w);
    }
    w.count++;
    if (w.count <= this.burst) return 0;
    return this.held < this.maxHeld ? this.delayMs : 0;
  }

  /** Runs `answer` after the delay, counting held answers so a flood cannot pile them up without bound. */
  private hold(delayMs: number, answer: () => void): void {
    if (delayMs <= 0) return answer();
    this.held++;
    const timer = setTimeout(() => {
      this.held--;
      answer();
    }, delayMs);
    timer.unref();
  }

  close(): void {
    clearTimer(this.sweep);
  }

  private prune(): void {
    const now = Date.now();
    for (const [address, w] of this.windows) if (now - w.start > this.windowMs * 10) this.windows.delete(address);
  }
}
