/**
 * At most one log line per interval for an event that an outsider can repeat at will (a flood must
 * not turn into a flood of log lines). The first event is reported at once; later ones are counted
 * and reported with the next line that is due.
 */
export class LogThrottle {
  private pending = 0;
  private lastLine = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts one event; returns how many events the line due now reports (this one included), or 0 when no line is due. */
  hit(): number {
    this.pending++;
    const now = this.now();
    if (now - this.lastLine < this.intervalMs) return 0;
    this.lastLine = now;
    const count = this.pending;
    this.pending = 0;
    return count;
  }
}
