/**
 * Counts the control frames a peer sends that the endpoint consumes itself (Pings it must answer,
 * Pongs): a peer past `maxPerSecond` in one second is flooding, not keeping a connection alive
 * (keep-alives come every few seconds at most). Reading them costs CPU however well the answers
 * are coalesced, so the connection is closed with 1008.
 */
export class ControlFrameRate {
  private windowStart = 0;
  private count = 0;

  constructor(private readonly maxPerSecond: number) {}

  /** Records one control frame; true when the peer went over the rate. */
  exceeded(now = Date.now()): boolean {
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.count = 0;
    }
    return ++this.count > this.maxPerSecond;
  }
}

/** Pings and Pongs a peer may send per second before it counts as flooding. */
export const DEFAULT_MAX_CONTROL_FRAMES_PER_SECOND = 100;
