/**
 * `--max-connections`: how many relayed connections a listener carries at once. A connection holds a
 * slot from the moment it is accepted (before its first message, so senders that never say anything
 * count too) until it is over; when none is free it is refused at once (aztunnel instead drops the
 * accept and lets the sender hang until the relay times out). Slots are held per connection, so the
 * listener and the protocol handler can both ask for one without counting it twice.
 */
export class ConnectionSlots {
  private readonly holders = new Set<object>();

  /** `limit` 0 means unlimited. */
  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 0) throw new RangeError('the connection limit must be a whole number, 0 for unlimited');
  }

  get active(): number {
    return this.holders.size;
  }

  get isFull(): boolean {
    return this.limit > 0 && this.holders.size >= this.limit;
  }

  /** Takes a slot for `holder` (true at once when it already has one); false when all are in use. */
  tryAcquire(holder: object): boolean {
    if (this.holders.has(holder)) return true;
    if (this.isFull) return false;
    this.holders.add(holder);
    return true;
  }

  /** Gives `holder`'s slot back (nothing when it has none). */
  release(holder: object): void {
    this.holders.delete(holder);
  }
}
