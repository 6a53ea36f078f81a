import type { Readable, Writable } from 'node:stream';

/** What is kept for a replay at most: one socket read's worth, as azbridge's pumps use. */
export const EARLY_BYTES_LIMIT = 64 * 1024;

/**
 * The client's first bytes, read while its relayed connection is still being set up, so they can
 * follow the preamble (or envelope) at once instead of a round trip later, after its reply. Every
 * byte read is kept until the peer accepted (release()), so a try that is refused or lost can be
 * replayed on the next relayed connection, in order and exactly once there. At most `limit` bytes
 * are read ahead: past that the client waits in its socket (TCP backpressure), as it did before.
 * The client's end of data is seen and kept: the pump that follows sees an ended source.
 */
export class EarlyBytes {
  private readonly kept: Buffer[] = [];
  private keptBytes = 0;
  private sink: Writable | undefined;
  private released = false;
  private sawEnd = false;
  private readonly onData = (chunk: Buffer) => this.take(chunk);
  private readonly onEnd = () => {
    this.sawEnd = true;
  };

  constructor(
    private readonly source: Readable,
    private readonly limit = EARLY_BYTES_LIMIT,
  ) {
    source.on('data', this.onData);
    source.once('end', this.onEnd);
    // A source paused by an earlier reader (the SOCKS5 handshake) starts flowing here.
    source.resume();
  }

  /** Bytes read ahead so far. */
  get length(): number {
    return this.keptBytes;
  }

  /** The client ended its data within the bytes read ahead. */
  get ended(): boolean {
    return this.sawEnd;
  }

  /**
   * Sends every byte kept so far to `sink` (the relayed connection of this try, right after its
   * preamble), and each one read from now on, until the next sendTo() or release().
   */
  sendTo(sink: Writable): void {
    if (this.released) return;
    this.sink = sink;
    for (const chunk of this.kept) sink.write(chunk);
  }

  /** This try is over (refused or lost): nothing more goes to its connection. */
  detach(): void {
    this.sink = undefined;
  }

  /**
   * The peer accepted: the kept bytes are no longer needed and the source is left paused for the
   * pump, with whatever was not read ahead still in it. Answers the bytes that were sent early.
   */
  release(): number {
    if (!this.released) {
      this.released = true;
      this.source.off('data', this.onData);
      this.source.off('end', this.onEnd);
      this.source.pause();
      this.sink = undefined;
      this.kept.length = 0;
    }
    return this.keptBytes;
  }

  private take(chunk: Buffer): void {
    const room = this.limit - this.keptBytes;
    if (chunk.length > room) {
      // The rest waits in the source for the pump; the read-ahead stops here.
      this.source.pause();
      this.source.unshift(chunk.subarray(room));
      chunk = chunk.subarray(0, room);
      this.source.off('data', this.onData);
    }
    if (chunk.length === 0) return;
    this.kept.push(chunk);
    this.keptBytes += chunk.length;
    this.sink?.write(chunk);
  }
}
