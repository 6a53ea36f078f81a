/**
 * Pings a connection every `intervalMs`; when neither a pong nor any other traffic has arrived
 * `timeoutMs` after a ping, calls `onDead` (which usually destroys the connection).
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

  start(intervalMs: number, timeoutMs: number, onDead: () => void): void {
    this.stop();
    const tick = Math.max(100, Math.min(intervalMs, timeoutMs));
    let lastPingAt = Date.now();
    this.timer = setInterval(() => {
      const now = Date.now();
      if (this.awaitingPongSince > 0) {
        if (this.lastReceiveAt >= this.awaitingPongSince) this.awaitingPongSince = 0;
        else if (now - this.awaitingPongSince >= timeoutMs) {
          this.stop();
          onDead();
          return;
        }
      }
      if (this.awaitingPongSince === 0 && now - lastPingAt >= intervalMs) {
        lastPingAt = now;
        this.awaitingPongSince = now;
        this.ping();
      }
    }, tick);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
