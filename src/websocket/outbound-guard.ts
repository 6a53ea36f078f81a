import type { Duplex } from 'node:stream';
import { clearTimer } from '../util/clear-timer.js';

export interface WriteBudget {
  /** Bytes waiting in the socket's write buffer (control frames included) above which the peer counts as not reading. */
  maxBufferedBytes: number;
  /** How long the peer may stay over the budget before the connection is closed with 1008. */
  stallMs: number;
}

export interface OutboundGuardHooks {
  writePong(payload: Buffer): void;
  /** False once nothing more may be sent (our Close went out, or the socket is gone). */
  canWrite(): boolean;
  /** Pauses (true) or resumes (false) reading from the peer on the budget's behalf. */
  pauseForBudget(paused: boolean): void;
  /** The peer stayed over the budget for `stallMs`. */
  onStall(bufferedBytes: number): void;
}

/**
 * What a connection owes a peer that may not read. Pings are answered with at most one pending
 * Pong, carrying the latest ping's payload (RFC 6455 §5.5.3 lets an endpoint answer only the most
 * recent one): a ping flood costs one Pong per read, and nothing while the socket is write-blocked.
 * With a write budget, a peer that lets more than `maxBufferedBytes` pile up is not read from
 * until it drains them (it gets no more work through us), and after `stallMs` it is given up.
 */
export class OutboundGuard {
  private pendingPong: Buffer | undefined;
  private pongScheduled = false;
  private over = false;
  private stallTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: Duplex,
    private readonly budget: WriteBudget | undefined,
    private readonly hooks: OutboundGuardHooks,
  ) {}

  get overBudget(): boolean {
    return this.over;
  }

  /** A Ping arrived: its Pong replaces any the socket has not taken yet. */
  queuePong(payload: Buffer): void {
    this.pendingPong = payload;
    if (this.pongScheduled) return;
    this.pongScheduled = true;
    if (this.socket.writableNeedDrain) this.socket.once('drain', this.flushPong);
    else process.nextTick(this.flushPong);
  }

  /** Call after each write: notices the peer going over its budget. */
  afterWrite(): void {
    const budget = this.budget;
    if (!budget || this.over || this.socket.writableLength <= budget.maxBufferedBytes) return;
    this.over = true;
    this.hooks.pauseForBudget(true);
    this.socket.once('drain', this.backUnder);
    this.stallTimer = setTimeout(() => {
      this.stallTimer = undefined;
      if (this.socket.writableLength <= budget.maxBufferedBytes) this.backUnder();
      else this.hooks.onStall(this.socket.writableLength);
    }, budget.stallMs);
    this.stallTimer.unref();
  }

  stop(): void {
    clearTimer(this.stallTimer);
    this.stallTimer = undefined;
    this.socket.off('drain', this.backUnder);
    this.socket.off('drain', this.flushPong);
    this.pendingPong = undefined;
  }

  private readonly flushPong = (): void => {
    this.pongScheduled = false;
    const payload = this.pendingPong;
    if (!payload) return;
    if (!this.hooks.canWrite()) {
      this.pendingPong = undefined;
      return;
    }
    if (this.socket.writableNeedDrain) {
      this.pongScheduled = true;
      this.socket.once('drain', this.flushPong);
      return;
    }
    this.pendingPong = undefined;
    this.hooks.writePong(payload);
  };

  private readonly backUnder = (): void => {
    if (!this.over) return;
    this.over = false;
    clearTimer(this.stallTimer);
    this.stallTimer = undefined;
    this.socket.off('drain', this.backUnder);
    this.hooks.pauseForBudget(false);
  };
}
