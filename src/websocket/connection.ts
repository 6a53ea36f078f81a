import type { Duplex } from 'node:stream';
import { maskInto, rotateMask } from '../protocol/masking.js';
import {
  CloseCode,
  decodeClosePayload,
  encodeClosePayload,
  encodeFrame,
  encodeFrameHeader,
  encodeSmallFrame,
  encodeUncopiedFrameHeader,
  FrameDecoder,
  type FrameHandler,
  type FrameHeader,
  type Masking,
  Opcode,
  randomMask,
  WebSocketProtocolError,
} from '../protocol/websocket-frame.js';

export type Role = 'client' | 'server';

/** What a connection reports upward. Data arrives as payload chunks, never reassembled here. */
export interface ConnectionHandler {
  onMessageStart?(binary: boolean): void;
  onMessageData(chunk: Buffer): void;
  onMessageEnd?(): void;
  /** The peer sent a Close frame: its direction is finished. Ours may still be open. */
  onPeerClose?(code: number, reason: string): void;
  /** The underlying socket is gone. `code` is the peer's close code, or 1006 when there was none. */
  onClosed?(code: number, reason: string, error?: Error): void;
  onPong?(payload: Buffer): void;
}

export interface ConnectionOptions {
  role: Role;
  /** Largest single frame accepted (close 1009 above it). */
  maxFrameLength?: number;
  /** Answer a peer's Close at once (control channels). Data streams leave this off for half-close. */
  autoCloseReply?: boolean;
  /** How long to wait for the socket to go away after both Close frames, before destroying it. */
  closeLingerMs?: number;
  /** Client role: mask with the all-zero key (see OpenedWebSocket.maskingOptional). */
  zeroMask?: boolean;
}

/**
 * A WebSocket endpoint over an upgraded socket. Unlike the `ws` package it keeps the two directions
 * independent: close() ends only our direction, and a peer's Close is reported, not answered
 * (unless autoCloseReply). Payload is streamed chunk by chunk; reading can be paused for backpressure.
 */
export class WsConnection implements FrameHandler {
  private readonly decoder: FrameDecoder;
  private readonly masking: Masking;
  private handler: ConnectionHandler | undefined;
  private closeSent = false;
  private closeReceived = false;
  private finished = false;
  private coalescing = false;
  private turnHeld = false;
  private peerCode: number = CloseCode.Abnormal;
  private peerReason = '';
  private lingerTimer: NodeJS.Timeout | undefined;
  private keepAliveTimer: NodeJS.Timeout | undefined;
  private awaitingPongSince = 0;
  private lastReceiveAt = Date.now();
  private bytesIn = 0;
  private bytesOut = 0;
  private failure: Error | undefined;

  constructor(
    readonly socket: Duplex,
    private readonly options: ConnectionOptions,
  ) {
    this.masking = options.role === 'server' ? 'none' : options.zeroMask ? 'zero' : 'random';
    this.decoder = new FrameDecoder(this, { expectMasked: options.role === 'server', maxFrameLength: options.maxFrameLength });
  }

  /** Starts reading. `head` holds bytes that arrived together with the handshake. */
  attach(handler: ConnectionHandler, head?: Buffer): void {
    this.handler = handler;
    const socket = this.socket;
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('end', () => {
      if (!this.closeReceived) this.fail(undefined, false);
      else if (!this.closeSent) this.socket.end();
    });
    socket.on('error', (err: Error) => this.fail(err, false));
    socket.on('close', () => this.finish(undefined));
    if (head && head.length > 0) this.receive(head);
  }

  setHandler(handler: ConnectionHandler): void {
    this.handler = handler;
  }

  get inputClosed(): boolean {
    return this.closeReceived;
  }

  get outputClosed(): boolean {
    return this.closeSent;
  }

  get isFinished(): boolean {
    return this.finished;
  }

  get receivedBytes(): number {
    return this.bytesIn;
  }

  get sentBytes(): number {
    return this.bytesOut;
  }

  /** True when the socket's write buffer is above its high-water mark. */
  get writeBlocked(): boolean {
    return this.socket.writableNeedDrain;
  }

  /**
   * From now on, frames sent during one turn of the event loop leave the process in one write: the
   * socket stays corked until setImmediate, i.e. until the I/O callbacks of the current turn have
   * run. For a channel that many requests share (a listener's control channel) this turns several
   * small writes here, and as many reads at the other end, into one each under load; a lone frame
   * waits only for the rest of the current turn.
   */
  coalesceWrites(): void {
    this.coalescing = true;
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

  /** Sends one frame. Returns false when the caller should wait for 'drain' on the socket. */
  sendFrame(opcode: number, payload: Buffer, fin = true): boolean {
    if (this.closeSent || this.finished) return false;
    this.holdForTurn();
    this.bytesOut += payload.length;
    const parts = encodeFrame(fin, opcode, payload, this.masking);
    if (parts.length === 1) return this.socket.write(parts[0]);
    this.holdForFrame();
    this.socket.write(parts[0]);
    return this.socket.write(parts[1]);
  }

  /** Sends several buffers as the payload of one frame (randomly masked client frames are masked into one copy). */
  sendFrameParts(opcode: number, parts: readonly Buffer[], fin = true): boolean {
    if (this.closeSent || this.finished) return false;
    this.holdForTurn();
    let total = 0;
    for (const part of parts) total += part.length;
    this.bytesOut += total;
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

  sendBinary(payload: Buffer, fin = true): boolean {
    return this.sendFrame(Opcode.Binary, payload, fin);
  }

  sendText(text: string): boolean {
    return this.sendFrame(Opcode.Text, Buffer.from(text, 'utf8'), true);
  }

  ping(payload: Buffer = Buffer.alloc(0)): void {
    if (this.closeSent || this.finished) return;
    this.writeControl(Opcode.Ping, payload);
  }

  /** Sends our Close frame (our direction ends). The socket goes once the peer's Close arrives too. */
  close(code: number = CloseCode.Normal, reason = ''): void {
    if (this.closeSent || this.finished) return;
    this.closeSent = true;
    this.writeControl(Opcode.Close, encodeClosePayload(code, reason));
    if (this.closeReceived) this.endSocket();
  }

  pauseReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    if (!this.finished) this.socket.resume();
  }

  /** Sends a Close (when still possible) and ends the socket without waiting for the peer. */
  terminate(code: number = CloseCode.Normal, reason = ''): void {
    if (this.finished) return;
    if (!this.closeSent) this.close(code, reason);
    this.endSocket();
  }

  /** Tears the connection down at once. */
  destroy(error?: Error): void {
    this.socket.destroy();
    this.finish(error);
  }

  /**
   * Pings every `intervalMs`; when no pong or other traffic has arrived `timeoutMs` after a ping,
   * calls `onDead` (which usually destroys the connection).
   */
  startKeepAlive(intervalMs: number, timeoutMs: number, onDead: () => void): void {
    this.stopKeepAlive();
    const tick = Math.max(100, Math.min(intervalMs, timeoutMs));
    let lastPingAt = Date.now();
    this.keepAliveTimer = setInterval(() => {
      const now = Date.now();
      if (this.awaitingPongSince > 0) {
        if (this.lastReceiveAt >= this.awaitingPongSince) this.awaitingPongSince = 0;
        else if (now - this.awaitingPongSince >= timeoutMs) {
          this.stopKeepAlive();
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
    this.keepAliveTimer.unref();
  }

  stopKeepAlive(): void {
    if (this.keepAliveTimer) clearInterval(this.keepAliveTimer);
    this.keepAliveTimer = undefined;
  }

  private receive(chunk: Buffer): void {
    this.lastReceiveAt = Date.now();
    try {
      this.decoder.push(chunk);
    } catch (err) {
      if (err instanceof WebSocketProtocolError) {
        if (!this.closeSent) this.close(err.closeCode, err.message);
        this.fail(err, true);
      } else {
        this.fail(err as Error, false);
      }
    }
  }

  onDataFrameStart(header: FrameHeader): void {
    if (header.opcode !== Opcode.Continuation) this.handler?.onMessageStart?.(header.opcode === Opcode.Binary);
  }

  onDataPayload(chunk: Buffer): void {
    if (this.closeReceived) return;
    this.bytesIn += chunk.length;
    this.handler?.onMessageData(chunk);
  }

  onDataFrameEnd(header: FrameHeader): void {
    if (header.fin) this.handler?.onMessageEnd?.();
  }

  onControlFrame(opcode: number, payload: Buffer): void {
    if (opcode === Opcode.Ping) {
      if (!this.closeSent) this.writeControl(Opcode.Pong, payload);
      return;
    }
    if (opcode === Opcode.Pong) {
      this.awaitingPongSince = 0;
      this.handler?.onPong?.(payload);
      return;
    }
    if (this.closeReceived) return;
    const { code, reason } = decodeClosePayload(payload);
    this.closeReceived = true;
    this.peerCode = code;
    this.peerReason = reason;
    this.handler?.onPeerClose?.(code, reason);
    if (this.options.autoCloseReply && !this.closeSent) this.close(code === CloseCode.NoStatus ? CloseCode.Normal : code, '');
    if (this.closeSent) this.endSocket();
  }

  private writeControl(opcode: number, payload: Buffer): void {
    this.holdForTurn();
    this.socket.write(encodeSmallFrame(opcode, payload, this.masking));
  }

  private endSocket(): void {
    if (this.lingerTimer) return;
    this.socket.end();
    this.lingerTimer = setTimeout(() => this.socket.destroy(), this.options.closeLingerMs ?? 5000);
    this.lingerTimer.unref();
  }

  private fail(error: Error | undefined, graceful: boolean): void {
    if (this.finished) return;
    this.failure ??= error;
    if (graceful) this.endSocket();
    else this.socket.destroy();
    if (!graceful) this.finish(error);
  }

  private finish(error: Error | undefined): void {
    if (this.finished) return;
    this.finished = true;
    this.stopKeepAlive();
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    const code = this.closeReceived ? this.peerCode : CloseCode.Abnormal;
    this.handler?.onClosed?.(code, this.peerReason, error ?? this.failure);
  }
}

function uncork(socket: Duplex): void {
  socket.uncork();
}
