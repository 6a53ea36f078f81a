import type { Duplex } from 'node:stream';
import { maskInto, rotateMask } from '../protocol/masking.js';
import { encodeFrame, encodeFrameHeader, encodeSmallFrame, encodeUncopiedFrameHeader, type Masking, randomMask } from '../protocol/websocket-frame.js';

/**
 * Writes frames to a socket: header and payload of one frame in one writev, and, once asked to
 * coalesce, every frame of one event-loop turn in one write.
 */
export class FrameWriter {
  private coalescing = false;
  private turnHeld = false;

  constructor(
    private readonly socket: Duplex,
    readonly masking: Masking,
  ) {}

  /**
   * From now on, frames written during one turn of the event loop leave the process in one write:
   * the socket stays corked until setImmediate, i.e. until the I/O callbacks of the current turn
   * have run. For a channel that many requests share (a listener's control channel) this turns
   * several small writes here, and as many reads at the other end, into one each under load; a lone
   * frame waits only for the rest of the current turn.
   */
  coalesce(): void {
    this.coalescing = true;
  }

  /** One frame; false when the caller should wait for 'drain'. */
  frame(opcode: number, payload: Buffer, fin: boolean): boolean {
    this.holdForTurn();
    const parts = encodeFrame(fin, opcode, payload, this.masking);
    if (parts.length === 1) return this.socket.write(parts[0]);
    this.holdForFrame();
    this.socket.write(parts[0]);
    return this.socket.write(parts[1]);
  }

  /** Several buffers as the payload of one frame (randomly masked client frames are masked into one copy). */
  frameParts(opcode: number, parts: readonly Buffer[], total: number, fin: boolean): boolean {
    this.holdForTurn();
    if (this.masking !== 'random') {
      this.holdForFrame();
      this.socket.write(encodeUncopiedFrameHeader(fin, opcode, total, this.masking));
      let ok = true;
      for (const part of parts) ok = this.socket.write(part);
      return ok;
    }
    const mask = randomMask();
    const header = encodeFrameHeader(fin, opcode, total, mask);
    const out = Buffer.allocUnsafe(header.length + total);
    header.copy(out, 0);
    let offset = header.length;
    for (const part of parts) {
      maskInto(part, rotateMask(mask, offset - header.length), out, offset);
      offset += part.length;
    }
    return this.socket.write(out);
  }

  /** A control frame (at most 125 bytes of payload) in one write. */
  control(opcode: number, payload: Buffer): void {
    this.holdForTurn();
    this.socket.write(encodeSmallFrame(opcode, payload, this.masking));
  }

  private holdForTurn(): void {
    if (!this.coalescing || this.turnHeld) return;
    this.turnHeld = true;
    this.socket.cork();
    setImmediate(() => {
      this.turnHeld = false;
      this.socket.uncork();
    });
  }

  /** Keeps a frame's header and payload writes together (one writev); already so while the turn is held. */
  private holdForFrame(): void {
    if (this.turnHeld) return;
    this.socket.cork();
    process.nextTick(uncork, this.socket);
  }
}

function uncork(socket: Duplex): void {
  socket.uncork();
}
