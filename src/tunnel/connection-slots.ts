/**
 * `--max-connections`: how many tunnels a listener carries at once. A slot is taken when a tunnel
 * request arrives and given back when the tunnel is over; when none is free the request is refused
 * at once (aztunnel instead drops the accept and lets the sender hang until the relay times out).
 */
export class ConnectionSlots {
  private used = 0;

  /** `limit` 0 means unlimited. */
  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 0) throw new RangeError('the connection limit must be a whole number, 0 for unlimited');
  }

  get active(): number {
    return this.used;
  }

  get isFull(): boolean {
    return this.limit > 0 && this.used >= this.limit;
  }

  /** Takes a slot; false when all are in use. */
  tryAcquire(): boolean {
    if (this.isFull) return false;
    this.used++;
    return true;
  }

  release(): void {
    if (this.used > 0) this.used--;
  }
}
