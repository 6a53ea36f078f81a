/**
 * Checks an echoed byte stream against what was sent, message by message, and times each message
 * from its write to the arrival of its last byte.
 */
export class EchoChecker {
  private readonly queue: { bytes: Buffer; sentAt: number; matched: number }[] = [];
  mismatch = false;

  constructor(private readonly onEchoed: (latencyMs: number, bytes: number) => void) {}

  get outstanding(): number {
    return this.queue.length;
  }

  sent(bytes: Buffer, at = performance.now()): void {
    this.queue.push({ bytes, sentAt: at, matched: 0 });
  }

  /** Feeds received bytes; returns false (and sets `mismatch`) on a byte that was not expected. */
  received(chunk: Buffer): boolean {
    let offset = 0;
    while (offset < chunk.length) {
      const head = this.queue[0];
      if (!head) {
        this.mismatch = true;
        return false;
      }
      const take = Math.min(head.bytes.length - head.matched, chunk.length - offset);
      if (head.bytes.compare(chunk, offset, offset + take, head.matched, head.matched + take) !== 0) {
        this.mismatch = true;
        return false;
      }
      head.matched += take;
      offset += take;
      if (head.matched === head.bytes.length) {
        this.queue.shift();
        this.onEchoed(performance.now() - head.sentAt, head.bytes.length);
      }
    }
    return true;
  }
}
