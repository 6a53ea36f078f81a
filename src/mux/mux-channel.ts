import { EventEmitter } from 'node:events';
import type { StreamChannel } from '../client/hybrid-connection-stream.js';
import { CloseCode, Opcode } from '../protocol/websocket-frame.js';
import type { ConnectionHandler } from '../websocket/connection.js';
import { encodeHeader, encodeReset, FrameFlag, FrameType, MAX_WINDOW, MuxProtocolError } from './frame.js';

/** What a channel asks of its session. */
export interface ChannelHost {
  /** The channel has something to send (data with credit, or its closing frame). */
  schedule(channel: MuxChannel): void;
  /** A RESET that must not wait behind data (an abort). */
  sendReset(channel: MuxChannel, code: number, reason: string): void;
  /** The channel wants to return credit to the peer. */
  grant(channel: MuxChannel): void;
  /**
   * By how much this stream's receive window changes with a grant of `credit` bytes (towards the
   * session's estimate of what one stream needs in flight, within its budget): positive to grow,
   * negative (at most `credit`) to shrink by withholding credit; it grows only when `mayGrow`.
   */
  windowChange(channel: MuxChannel, credit: number, mayGrow: boolean): number;
  /** The channel is over in both directions: forget it. */
  release(channel: MuxChannel): void;
}

/**
 * Queued bytes above which a write returns false (the writer waits for 'drain'). Above one 64 KiB
 * socket read, so a reader that keeps up is not paused and resumed for every read.
 */
export const CHANNEL_SEND_HIGH_WATER = 256 * 1024;

interface QueuedChunk {
  data: Buffer;
  text: boolean;
  /** The chunk ends its message. */
  last: boolean;
}

type Closing = { kind: 'fin' } | { kind: 'reset'; code: number; reason: string };

/**
 * One stream of a multiplexed session, with the surface a HybridConnectionStream needs from a
 * WebSocket connection: messages (each DATA frame run is one message, text or binary), close(1000)
 * as half-close (FIN), any other close or terminate as RESET with that code, pause/resume as credit.
 *
 * Flow control: the peer may send at most `window` bytes beyond what this end has granted back, and
 * credit is granted only while the reader is not paused, so a stream's unread data stays within its
 * window (plus the reader's own high-water mark), whatever the peer does.
 */
export class MuxChannel implements StreamChannel {
  readonly socket = new EventEmitter();
  private handler: ConnectionHandler | undefined;
  private readonly queue: QueuedChunk[] = [];
  private queued = 0;
  private writeBlocked = false;
  private closing: Closing | undefined;
  private opened: boolean;
  private closeSent = false;
  private closeWritten = false;
  private closeReceived = false;
  private finished = false;
  private paused = false;
  private inMessage = false;
  /** The frame being received ends its message (no MORE flag). */
  private frameEndsMessage = true;
  private sendCredit: number;
  private receiveLeft: number;
  private pendingCredit = 0;
  /** Our receive window now: the initial one, plus what the session let it grow by. */
  private window: number;
  /** The reader paused since the last grant (its pace, not the window, limits the stream). */
  private pausedSinceGrant = false;
  private bytesIn = 0;
  private bytesOut = 0;
  /** In the session's round-robin ring. */
  inRing = false;
  /** The session scheduler's byte balance for this stream (deficit round-robin). */
  sendBalance = 0;

  constructor(
    readonly id: number,
    private readonly host: ChannelHost,
    /** Our initial receive window (what we told the peer). */
    readonly initialWindow: number,
    /** The peer's receive window: our initial credit. */
    peerWindow: number,
    /** A stream the peer opened starts open; one we open sends OPEN first. */
    openedByPeer: boolean,
  ) {
    this.sendCredit = peerWindow;
    this.receiveLeft = initialWindow;
    this.window = initialWindow;
    this.opened = openedByPeer;
  }

  attach(handler: ConnectionHandler): void {
    this.handler = handler;
  }

  get receivedBytes(): number {
    return this.bytesIn;
  }

  get sentBytes(): number {
    return this.bytesOut;
  }

  get isFinished(): boolean {
    return this.finished;
  }

  get outputClosed(): boolean {
    return this.closeSent;
  }

  get inputClosed(): boolean {
    return this.closeReceived;
  }

  /** Bytes waiting to be sent (for measurements and tests). */
  get queuedBytes(): number {
    return this.queued;
  }

  /** Bytes the peer's credit still covers beyond what already waits to be sent. */
  sendRoom(): number {
    return Math.max(0, this.sendCredit - this.queued);
  }

  /** Bytes received and not yet granted back: what this stream holds of the peer's data at most. */
  get unGrantedBytes(): number {
    return this.window - this.receiveLeft;
  }

  /** Our receive window now (it only grows, by what the session allows, while the reader keeps up). */
  get currentWindow(): number {
    return this.window;
  }

  sendBinary(payload: Buffer, fin = true): boolean {
    return this.enqueue([payload], false, fin);
  }

  sendText(text: string): boolean {
    return this.enqueue([Buffer.from(text, 'utf8')], true, true);
  }

  sendFrameParts(opcode: number, parts: readonly Buffer[], fin = true): boolean {
    return this.enqueue(parts, opcode === Opcode.Text, fin);
  }

  /** Keep-alive is the session's (PING frames); a stream has none of its own. */
  startKeepAlive(): void {}

  pauseReading(): void {
    this.paused = true;
    this.pausedSinceGrant = true;
  }

  resumeReading(): void {
    this.paused = false;
    this.grantIfDue();
  }

  /** Our direction ends: FIN after the queued data for a clean close, an immediate RESET otherwise. */
  close(code: number = CloseCode.Normal, reason = ''): void {
    if (this.closeSent || this.finished) return;
    this.closeSent = true;
    if (code === CloseCode.Normal) this.closeAfterData({ kind: 'fin' });
    else this.abort(code, reason);
  }

  /**
   * Both directions end now: a clean close sends FIN (when the peer is done too) or RESET 1000 after
   * the queued data; any other code aborts at once.
   */
  terminate(code: number = CloseCode.Normal, reason = ''): void {
    if (this.finished) return;
    if (code !== CloseCode.Normal) {
      this.closeSent = true;
      this.abort(code, reason);
      return;
    }
    if (this.closeReceived) {
      if (!this.closeSent) this.close();
      return;
    }
    if (!this.closeSent) {
      this.closeSent = true;
      this.closeAfterData({ kind: 'reset', code, reason });
    } else if (!this.closeWritten) {
      this.closing = { kind: 'reset', code, reason };
    } else {
      this.abort(code, reason);
    }
  }

  // ---- the session's side ----

  /** True when takeFrame() would produce a frame now. */
  wantsToSend(): boolean {
    if (this.finished || this.closeWritten) return false;
    if (this.queue.length > 0) return this.sendCredit > 0;
    return this.closing !== undefined;
  }

  /**
   * The next frame to write (header, then the payload's parts, uncopied): at most `maxPayload` bytes
   * of one message, within credit. A frame never spans two messages.
   */
  takeFrame(maxPayload: number): Buffer[] | undefined {
    if (!this.wantsToSend()) return undefined;
    const first = this.queue[0];
    if (!first) return this.takeClosing();
    const room = Math.min(maxPayload, this.sendCredit);
    const frame: Buffer[] = [EMPTY];
    let size = 0;
    let last = false;
    for (;;) {
      const head = this.queue[0]!;
      const take = Math.min(head.data.length, room - size);
      if (take < head.data.length) {
        frame.push(head.data.subarray(0, take));
        head.data = head.data.subarray(take);
        size += take;
        break;
      }
      this.queue.shift();
      if (take > 0) frame.push(head.data);
      size += take;
      if (head.last) {
        last = true;
        break;
      }
      if (size >= room || this.queue.length === 0) break;
    }
    this.queued -= size;
    this.sendCredit -= size;
    this.bytesOut += size;
    const flags = (first.text ? FrameFlag.Text : 0) | (last ? 0 : FrameFlag.More);
    const type = this.opened ? FrameType.Data : FrameType.Open;
    this.opened = true;
    if (this.writeBlocked && this.queued < CHANNEL_SEND_HIGH_WATER) {
      this.writeBlocked = false;
      this.socket.emit('drain');
    }
    frame[0] = encodeHeader(type, flags, this.id, size);
    return frame;
  }

  private takeClosing(): Buffer[] {
    const closing = this.closing!;
    this.closeWritten = true;
    const frames: Buffer[] = [];
    // A stream that never sent anything still has to exist at the peer before it can end.
    if (!this.opened) {
      frames.push(encodeHeader(FrameType.Open, 0, this.id, 0));
      this.opened = true;
    }
    if (closing.kind === 'fin') {
      frames.push(encodeHeader(FrameType.Fin, 0, this.id, 0));
      if (this.closeReceived) this.finish(CloseCode.Normal, '');
    } else {
      frames.push(encodeReset(this.id, closing.code, closing.reason));
      this.finish(CloseCode.Normal, closing.reason);
    }
    return frames;
  }

  /**
   * The credit to return now (taken by the session when it writes the WINDOW frame): what was
   * read, plus the window's growth when the reader kept up since the last grant, so the stream's
   * in-flight bytes can follow the path's bandwidth-delay product. A reader that paused never grows
   * its window: it keeps bounding what the stream holds.
   */
  takeGrant(): number {
    if (this.paused || this.finished || this.closeReceived) return 0;
    let credit = this.pendingCredit;
    this.pendingCredit = 0;
    if (credit > 0) {
      // A reader that paused keeps its window (or gives some back); only one that kept up grows it.
      const change = this.host.windowChange(this, credit, !this.pausedSinceGrant);
      this.window += change;
      credit += change;
    }
    this.pausedSinceGrant = false;
    this.receiveLeft += credit;
    return credit;
  }

  /** A DATA or OPEN frame from the peer begins (its payload follows in receivePiece calls). */
  receiveStart(flags: number, length: number): void {
    if (this.closeReceived) throw new MuxProtocolError(`data on stream ${this.id} after its fin`);
    if (length > this.receiveLeft) throw new MuxProtocolError(`stream ${this.id} sent ${length} bytes with ${this.receiveLeft} of credit`, CloseCode.PolicyViolation);
    this.receiveLeft -= length;
    this.bytesIn += length;
    this.frameEndsMessage = (flags & FrameFlag.More) === 0;
    if (!this.inMessage) {
      this.inMessage = true;
      this.handler?.onMessageStart?.((flags & FrameFlag.Text) === 0);
    }
  }

  /** Payload bytes of the current frame: handed to the reader as they are, a view of the transport's chunk. */
  receivePiece(piece: Buffer): void {
    // A small piece is copied, so it never keeps the transport's whole read chunk alive.
    if (!this.finished) this.handler?.onMessageData(piece.length * 4 < piece.buffer.byteLength ? Buffer.from(piece) : piece);
    this.pendingCredit += piece.length;
    this.grantIfDue();
  }

  /**
   * Grants in batches of a quarter window: the peer keeps at least three quarters to send with, so
   * a reader that pauses and resumes (as every stream's first message does) sends no WINDOW for a
   * few bytes.
   */
  private grantIfDue(): void {
    if (!this.paused && this.pendingCredit >= this.window / 4) this.host.grant(this);
  }

  receiveEnd(): void {
    if (!this.frameEndsMessage) return;
    this.inMessage = false;
    if (!this.finished) this.handler?.onMessageEnd?.();
  }

  receiveFin(): void {
    if (this.closeReceived) throw new MuxProtocolError(`second fin on stream ${this.id}`);
    this.closeReceived = true;
    this.handler?.onPeerClose?.(CloseCode.Normal, '');
    if (this.closeWritten && this.closing?.kind === 'fin') this.finish(CloseCode.Normal, '');
  }

  receiveReset(code: number, reason: string): void {
    this.dropQueue();
    this.closeWritten = true;
    if (!this.closeReceived) {
      this.closeReceived = true;
      this.handler?.onPeerClose?.(code, reason);
    }
    this.finish(code, reason);
  }

  receiveWindow(increment: number): void {
    if (increment === 0) throw new MuxProtocolError(`window update of 0 on stream ${this.id}`);
    this.sendCredit += increment;
    if (this.sendCredit > MAX_WINDOW) throw new MuxProtocolError(`stream ${this.id} credit above 2^31-1`);
    if (this.wantsToSend()) this.host.schedule(this);
  }

  /** The session is gone: the stream fails (its user sees an error, never a clean end). */
  sessionLost(reason: string): void {
    if (this.finished) return;
    this.dropQueue();
    this.finished = true;
    this.handler?.onClosed?.(CloseCode.Abnormal, `multiplexed session lost: ${reason}`);
    this.socket.emit('close');
  }

  private enqueue(parts: readonly Buffer[], text: boolean, messageEnd: boolean): boolean {
    if (this.closeSent || this.finished) return false;
    for (let i = 0; i < parts.length; i++) {
      const data = parts[i]!;
      this.queue.push({ data, text, last: messageEnd && i === parts.length - 1 });
      this.queued += data.length;
    }
    // An empty message still needs its frame.
    if (parts.length === 0) this.queue.push({ data: Buffer.alloc(0), text, last: messageEnd });
    this.host.schedule(this);
    if (this.queued < CHANNEL_SEND_HIGH_WATER) return true;
    this.writeBlocked = true;
    return false;
  }

  private closeAfterData(closing: Closing): void {
    this.closing = closing;
    this.host.schedule(this);
  }

  private abort(code: number, reason: string): void {
    this.dropQueue();
    this.closeWritten = true;
    // A stream the peer never heard of needs no reset.
    if (this.opened) this.host.sendReset(this, code, reason);
    this.finish(code, reason);
  }

  private dropQueue(): void {
    this.queue.length = 0;
    this.queued = 0;
  }

  private finish(code: number, reason: string): void {
    if (this.finished) return;
    this.finished = true;
    this.host.release(this);
    this.handler?.onClosed?.(code, reason);
    this.socket.emit('close');
  }
}

const EMPTY = Buffer.alloc(0);
