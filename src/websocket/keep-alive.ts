/** Early warning of a dead path: a ping unanswered for `afterMs`, well before the keep-alive timeout. */
import { clearTimer } from '../util/clear-timer.js';
export interface StallWatch {
  afterMs: number;
  /** Called once per unanswered ping, `afterMs` after it was sent. */
  onStalled: () => void;
}

/**
 * Pings a connection every `intervalMs`; when neither a pong nor any other traffic has arrived
 * `timeoutMs` after a ping, calls `onDead` (which usually destroys the connection). With a stall
 * watch it also reports a ping unanswered for `stall.afterMs` (the connection is kept).
 */
export class KeepAlive {
  private timer: NodeJS.Timeout | undefined;
  private awaitingPongSince = 0;
  private lastReceiveAt = Date.now();

  constructor(private readonly ping: () => void) {}

  /** Anything arrived from the peer. */
  noteReceived(now: number): void {
    this.lastReceiveAt = now;
  }

  notePong(): void {
    this.awaitingPongSince = 0;
  }

  /** When the ping still waiting for an answer was sent (ms since the epoch), or 0. */
  get unansweredSince(): number {
    return this.awaitingPongSince > this.lastReceiveAt ? this.awaitingPongSince : 0;
  }

  start(intervalMs: number, timeoutMs: number, onDead: () => void, stall?: StallWatch): void {
    this.stop();
    // A stall watch needs a finer tick than the interval: its deadline is short.
    const tick = stall ? Math.max(50, Math.min(intervalMs, timeoutMs, stall.afterMs) / 4) : Math.max(100, Math.min(intervalMs, timeoutMs));
    let lastPingAt = Date.now();
    let stallReported = false;
    this.timer = setInterval(() => {
      const now = Date.now();
      if (this.awaitingPongSince > 0) {
        if (this.lastReceiveAt >= this.awaitingPongSince) this.awaitingPongSince = 0;
        else if (now - this.awaitingPongSince >= timeoutMs) {
          this.stop();
          onDead();
          return;
        } else if (stall && !stallReported && now - this.awaitingPongSince >= stall.afterMs) {
          stallReported = true;
          stall.onStalled();
        }
      }
      if (this.awaitingPongSince === 0 && now - lastPingAt >= intervalMs) {
        lastPingAt = now;
        this.awaitingPongSince = now;
        stallReported = false;
        this.ping();
      }
    }, tick);
    this.timer.unref();
  }

  stop(): void {
    clearTimer(this.timer);
    this.timer = undefined;
  }
}
