import type { HttpDeadlines } from './http-deadlines.js';
import { clearTimer } from '../util/clear-timer.js';

export type DeadlineKind = 'response' | 'idle';

/**
 * The clock of one relayed HTTP exchange: until the response head arrives the response deadline
 * runs; from then on the idle timer, which every body byte resets (a stream may last as long as
 * bytes flow). The idle timer also runs while the sender does not read (backpressure): the
 * exchange holds a rendezvous and buffers, and a sender that stops reading for the idle time is
 * cut off like a listener that stops writing (the front door's idle timeout is off meanwhile).
 */
export class ExchangeDeadline {
  private timer: NodeJS.Timeout | undefined;
  private kind: DeadlineKind = 'response';
  private stopped = false;

  constructor(
    readonly deadlines: HttpDeadlines,
    private readonly onExpired: (kind: DeadlineKind, afterMs: number) => void,
  ) {
    this.arm(deadlines.responseMs);
  }

  /** The response head arrived: from now on only pauses count. */
  headArrived(): void {
    if (this.stopped) return;
    this.kind = 'idle';
    this.arm(this.deadlines.idleMs);
  }

  /** Body bytes went to the sender. */
  bytesFlowed(): void {
    if (this.kind !== 'idle' || this.stopped) return;
    if (this.timer) this.timer.refresh();
    else this.arm(this.deadlines.idleMs);
  }

  stop(): void {
    this.stopped = true;
    this.clear();
  }

  private arm(ms: number): void {
    this.clear();
    const kind = this.kind;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.onExpired(kind, ms);
    }, ms);
    this.timer.unref();
  }

  private clear(): void {
    clearTimer(this.timer);
    this.timer = undefined;
  }
}
