/**
 * The connections a bridge is carrying, so that shutdown can wait for them (drain) and then cut
 * whatever is left.
 */
export class ConnectionTracker {
  private readonly active = new Set<() => void>();
  private readonly datagramFlows = new Set<() => void>();
  private readonly idleWaiters = new Set<() => void>();

  get size(): number {
    return this.active.size;
  }

  /**
   * Registers a connection; `abort` destroys it. Call the returned function when it has ended.
   * Datagram flows have no end of their own to wait for, so drain() cuts them at once.
   */
  add(abort: () => void, kind: 'stream' | 'datagram' = 'stream'): () => void {
    this.active.add(abort);
    if (kind === 'datagram') this.datagramFlows.add(abort);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active.delete(abort);
      this.datagramFlows.delete(abort);
      if (this.active.size === 0) for (const wake of [...this.idleWaiters]) wake();
    };
  }

  /**
   * Ends the datagram flows, waits until every stream connection has ended or `timeoutMs` has
   * passed, then aborts the rest. Resolves with the number of stream connections that had to be cut.
   */
  async drain(timeoutMs: number): Promise<number> {
    for (const abort of [...this.datagramFlows]) abort();
    if (this.active.size > 0 && timeoutMs > 0) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.idleWaiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, timeoutMs);
        this.idleWaiters.add(done);
      });
    }
    const left = [...this.active];
    for (const abort of left) abort();
    return left.length;
  }
}
