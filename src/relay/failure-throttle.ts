/**
 * Makes repeated handshake failures from one address cheap for the relay and slow for the
 * client: hyco-ws reconnects with no back-off at all (about 900 attempts a second after a 401).
 * Past `burst` failures in a window, further answers are held back by `delayMs`.
 */
export class FailureThrottle {
  private readonly windows = new Map<string, { start: number; count: number; suppressed: number }>();
  private held = 0;
  private readonly sweep: NodeJS.Timeout;

  constructor(
    private readonly burst = 20,
    private readonly windowMs = 1000,
    private readonly delayMs = 1000,
    private readonly maxHeld = 2000,
  ) {
    this.sweep = setInterval(() => this.prune(), 10_000);
    this.sweep.unref();
  }

  /**
   * Records a failure; returns how long to wait before answering (0 = now) and whether the
   * failure should be logged (the rest are counted and reported once per window).
   */
  note(address: string, now = Date.now()): { delayMs: number; log: boolean; suppressed: number } {
    let w = this.windows.get(address);
    let suppressed = 0;
    if (!w || now - w.start >= this.windowMs) {
      suppressed = w?.suppressed ?? 0;
      w = { start: now, count: 0, suppressed: 0 };
      this.windows.set(address, w);
    }
    w.count++;
    if (w.count <= this.burst) return { delayMs: 0, log: true, suppressed };
    w.suppressed++;
    return { delayMs: this.held < this.maxHeld ? this.delayMs : 0, log: false, suppressed };
  }

  /** Runs `answer` after the delay, counting held sockets so a flood cannot pile them up without bound. */
  hold(delayMs: number, answer: () => void): void {
    if (delayMs <= 0) return answer();
    this.held++;
    const timer = setTimeout(() => {
      this.held--;
      answer();
    }, delayMs);
    timer.unref();
  }

  close(): void {
    clearInterval(this.sweep);
  }

  private prune(): void {
    const now = Date.now();
    for (const [address, w] of this.windows) if (now - w.start > this.windowMs * 10) this.windows.delete(address);
  }
}
