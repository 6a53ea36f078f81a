/**
 * Receive-window tuning for a multiplexed session: streams start with the window their SETTINGS
 * announced (256 KiB), which caps a stream at window / round-trip time. The tuner measures what the
 * path carries per round trip, the way HTTP/2 implementations estimate the bandwidth-delay product:
 * while data arrives it keeps one PING out; when its ACK returns, the bytes received since (the
 * frame that set it off included), per stream that received any, are one round trip's worth. Those
 * bytes were sent under the credit granted a round trip earlier, i.e. under the target before the
 * last change (a grown window reaches the sender half a round trip after the grant, and its data
 * the receiver another half later). When they reach two thirds of that window, the window was the
 * limit and the target quadruples, once per round trip (up to MAX_STREAM_WINDOW): doubling, as
 * TCP's slow start does, left a session's first transfer across a 160 ms round trip behind a fresh
 * TCP connection's. A window-limited sender moves its window in one burst per round trip, and a
 * probe's round trip need not line up with the bursts: across 160 ms one measured 262 KiB of a
 * 256 KiB window and the next 138 KiB. So two back-to-back round trips under the same window that
 * together reach two thirds of twice that window count as window-limited too. Otherwise the path
 * is the limit, and the target stays. A stream whose reader keeps up grows its
 * window to the target with its next grant (extra WINDOW credit; the wire format is unchanged). The
 * grown parts of all the session's windows together stay within WINDOW_GROWTH_BUDGET, shared
 * evenly by the open streams (a grown window shrinks back, by withholding credit, as streams are
 * added), so what a session can hold for readers that stop is bounded as before plus that budget,
 * and concurrent streams get the same window.
 */
/** What the tuner needs to know of a stream's window. */
export interface TunedWindow {
  readonly initialWindow: number;
  readonly currentWindow: number;
}

/** Largest receive window a stream grows to. */
export const MAX_STREAM_WINDOW = 8 * 1024 * 1024;
/** What the windows of one session's streams may grow by, together. */
export const WINDOW_GROWTH_BUDGET = 16 * 1024 * 1024;
/** The target grows when a round trip's worth per stream reaches this share of it. */
const GROW_AT = 2 / 3;
/** What a window-limited round trip multiplies the target by. */
const GROWTH_FACTOR = 4;
/** A probe unanswered this long is given up (its ACK may have been lost behind another PING) and replaced. */
export const PROBE_TIMEOUT_MS = 3000;
/** Marks the tuner's PINGs (the other 4 bytes count), so keep-alive ACKs are told apart. */
const PROBE_TAG = 0x68627764; // 'hbwd'

export class WindowTuner {
  private target: number;
  /** The target the data of the probe out now was sent under: the one before the last change. */
  private governing: number;
  private probe: Buffer | undefined;
  private probeCount = 0;
  private probeSentAt = 0;
  private bytes = 0;
  private readonly streams = new Set<number>();
  /** The last answered probe's round trip, while the next one follows it without a pause. */
  private previous: { perStream: number; governing: number; answeredAt: number; roundTrip: number } | undefined;
  private budget = WINDOW_GROWTH_BUDGET;

  constructor(initialWindow: number) {
    this.target = initialWindow;
    this.governing = initialWindow;
  }

  /** Current per-stream target window (for tests and measurements). */
  get targetWindow(): number {
    return this.target;
  }

  /** DATA of `length` bytes arrived on `stream`; returns the payload of a PING to send now, if one is due. */
  received(stream: number, length: number, now: number = Date.now()): Buffer | undefined {
    if (this.probe && now - this.probeSentAt < PROBE_TIMEOUT_MS) {
      this.bytes += length;
      this.streams.add(stream);
      return undefined;
    }
    if (this.target >= MAX_STREAM_WINDOW) return undefined;
    if (this.previous && now - this.previous.answeredAt > this.previous.roundTrip) this.previous = undefined;
    const probe = Buffer.allocUnsafe(8);
    probe.writeUInt32BE(PROBE_TAG, 0);
    probe.writeUInt32BE(++this.probeCount >>> 0, 4);
    this.probe = probe;
    this.probeSentAt = now;
    // The data that sets the probe off counts: it was in flight under the same window as what follows.
    this.bytes = length;
    this.streams.clear();
    this.streams.add(stream);
    return probe;
  }

  /** A PING ACK arrived; true when it answered the tuner's probe. */
  acknowledged(payload: Buffer, now: number = Date.now()): boolean {
    if (!this.probe || !payload.equals(this.probe)) return false;
    this.probe = undefined;
    // Never empty: the stream whose data set the probe off is counted.
    const perStream = this.bytes / this.streams.size;
    const governing = this.governing;
    const previous = this.previous;
    this.governing = this.target;
    this.previous = { perStream, governing, answeredAt: now, roundTrip: now - this.probeSentAt };
    const windowLimited =
      perStream >= GROW_AT * governing || (previous?.governing === governing && perStream + previous.perStream >= 2 * GROW_AT * governing);
    if (windowLimited) this.target = Math.min(MAX_STREAM_WINDOW, Math.max(GROWTH_FACTOR * this.target, Math.ceil(2 * perStream)));
    return true;
  }

  /**
   * By how much `channel`'s window changes with a grant of `credit` bytes: up towards the target,
   * within the budget's fair share for `streams` open streams, or down towards that share (by
   * withholding at most `credit`) when more streams arrived since it grew. Only a stream whose
   * reader kept up (`mayGrow`) grows.
   */
  windowChange(channel: TunedWindow, credit: number, mayGrow: boolean, streams: number): number {
    const share = channel.initialWindow + Math.floor(WINDOW_GROWTH_BUDGET / Math.max(1, streams));
    const desired = Math.max(channel.initialWindow, Math.min(this.target, MAX_STREAM_WINDOW, share));
    let change = 0;
    if (desired > channel.currentWindow) change = mayGrow ? Math.min(desired - channel.currentWindow, this.budget) : 0;
    else change = -Math.min(channel.currentWindow - desired, credit);
    this.budget -= change;
    return change;
  }

  /** A stream is over: what its window grew by returns to the budget. */
  released(channel: TunedWindow): void {
    this.budget += channel.currentWindow - channel.initialWindow;
  }
}
