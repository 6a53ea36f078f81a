/**
 * aztunnel ends read each WebSocket message with coder/websocket's default read limit, 32768 bytes,
 * and fail the connection (close 1009) on anything larger. Either end of a tunnel may be an aztunnel,
 * so everything a hybridge tunnel sends goes out as binary messages of at most 32 KiB, the size
 * aztunnel itself writes (one message per 32 KiB read).
 *
 * HybridConnectionStream writes one message per write and merges writes that queue up behind
 * backpressure into one larger message, so this wrapper cuts each chunk into pieces and writes the
 * next piece only when the previous write has completed: nothing ever queues, nothing is merged, and
 * backpressure still reaches the writer. Reading and half-close pass straight through.
 */
import { Duplex } from 'node:stream';

export const AZTUNNEL_MAX_MESSAGE_BYTES = 32 * 1024;

export function withBoundedMessages(inner: Duplex, maxMessageBytes = AZTUNNEL_MAX_MESSAGE_BYTES): Duplex {
  return new BoundedMessageStream(inner, maxMessageBytes);
}

class BoundedMessageStream extends Duplex {
  constructor(
    private readonly inner: Duplex,
    private readonly maxMessageBytes: number,
  ) {
    super({ allowHalfOpen: true, highWaterMark: 64 * 1024 });
    if (!Number.isInteger(maxMessageBytes) || maxMessageBytes < 1) throw new RangeError('maxMessageBytes must be a positive integer');
    inner.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) inner.pause();
    });
    inner.once('end', () => this.push(null));
    inner.once('error', (err: Error) => this.destroy(err));
    inner.once('close', () => {
      // The inner stream went away without an error: if our reading side had not ended, the
      // connection was cut rather than closed.
      if (!this.destroyed && !inner.readableEnded) this.destroy(new Error('relayed connection closed before it ended'));
    });
  }

  override _read(): void {
    if (this.inner.isPaused()) this.inner.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    let offset = 0;
    const next = (error?: Error | null): void => {
      if (error) return callback(error);
      if (offset >= chunk.length) return callback();
      const piece = chunk.subarray(offset, offset + this.maxMessageBytes);
      offset += piece.length;
      this.inner.write(piece, next);
    };
    next();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.inner.end((error?: Error | null) => callback(error));
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.inner.destroyed) this.inner.destroy(error ?? undefined);
    callback(error);
  }
}
