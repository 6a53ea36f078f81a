import type { Duplex } from 'node:stream';
import {
  CloseCode,
  decodeClosePayload,
  encodeClosePayload,
  FrameDecoder,
  type FrameHandler,
  type FrameHeader,
  Opcode,
  WebSocketProtocolError,
} from '../protocol/websocket-frame.js';
import { FrameWriter } from './frame-writer.js';
import { ControlFrameRate, DEFAULT_MAX_CONTROL_FRAMES_PER_SECOND } from './control-frame-rate.js';
import { InboundMessages, type MessageLimits } from './inbound-messages.js';
import { KeepAlive, type StallWatch } from './keep-alive.js';
import { OutboundGuard, type WriteBudget } from './outbound-guard.js';
import { clearTimer } from '../util/clear-timer.js';

export type Role = 'client' | 'server';

/** What a connection reports upward. Data arrives as payload chunks, never reassembled here. */
export interface ConnectionHandler {
  onMessageStart?(binary: boolean): void;
  onMessageData(chunk: Buffer): void;
  onMessageEnd?(): void;
  /**
   * Whole text messages. With this callback, text messages are collected by the connection (within
   * its text limit, UTF-8 checked when validateUtf8 is on) and never reach onMessageStart/Data/End,
   * which then see binary messages only.
   */
  onText?(text: string): void;
  /** The peer sent a Close frame: its direction is finished. Ours may still be open. */
  onPeerClose?(code: number, reason: string): void;
  /**
   * We gave up on the peer: it broke the protocol or a limit (`error.closeCode` went out in our
   * Close). The socket goes when the close handshake ends or its linger time is up (then onClosed).
   */
  onFailed?(error: WebSocketProtocolError): void;
  /** The underlying socket is gone. `code` is the peer's close code, or 1006 when there was none. */
  onClosed?(code: number, reason: string, error?: Error): void;
  onPong?(payload: Buffer): void;
}

export interface ConnectionOptions extends MessageLimits {
  role: Role;
  /** Largest single frame accepted (close 1009 above it); by default the message limit when there is one. */
  maxFrameLength?: number;
  /**
   * For a peer that may not read what it is sent (a control channel, a request rendezvous): over
   * this many buffered bytes reading from it pauses, and after `stallMs` it is closed with 1008.
   */
  writeBudget?: WriteBudget;
  /** Pings and Pongs the peer may send per second (close 1008 above); default 100. */
  maxControlFramesPerSecond?: number;
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
  private readonly writer: FrameWriter;
  private handler: ConnectionHandler | undefined;
  private closeSent = false;
  private closeReceived = false;
  private finished = false;
  private peerCode: number = CloseCode.Abnormal;
  private peerReason = '';
  private lingerTimer: NodeJS.Timeout | undefined;
  private readonly keepAlive = new KeepAlive(() => this.ping());
  private readonly inbound: InboundMessages;
  private readonly guard: OutboundGuard;
  private readonly controlRate: ControlFrameRate;
  private pausedByUser = false;
  private pausedForBudget = false;
  private inputFailed = false;
  private bytesIn = 0;
  private bytesOut = 0;
  private failure: Error | undefined;

  constructor(
    readonly socket: Duplex,
    private readonly options: ConnectionOptions,
  ) {
    this.writer = new FrameWriter(socket, options.role === 'server' ? 'none' : options.zeroMask ? 'zero' : 'random');
    this.decoder = new FrameDecoder(this, { expectMasked: options.role === 'server', maxFrameLength: options.maxFrameLength ?? frameLimitOf(options) });
    this.inbound = new InboundMessages(options, options.validateUtf8 === true);
    this.controlRate = new ControlFrameRate(options.maxControlFramesPerSecond ?? DEFAULT_MAX_CONTROL_FRAMES_PER_SECOND);
    this.guard = new OutboundGuard(socket, options.writeBudget, {
      writePong: (payload) => this.writeControl(Opcode.Pong, payload),
      canWrite: () => !this.closeSent && !this.finished,
      pauseForBudget: (paused) => {
        this.pausedForBudget = paused;
        this.applyPause();
      },
      onStall: (buffered) => this.stalled(buffered),
    });
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

  /** Bytes written but not yet taken by the socket (control frames included). */
  get bufferedBytes(): number {
    return this.socket.writableLength;
  }

  /** The peer is over its write budget: it is not read from, and gets nothing new. */
  get overBudget(): boolean {
    return this.guard.overBudget;
  }

  /** Replaces the message size limit from now on (undefined lifts it). A frame limit derived from limits given at construction stays. */
  limitMessages(maxMessageBytes: number | undefined): void {
    this.inbound.setLimit(maxMessageBytes);
  }

  /** Frames sent during one turn of the event loop leave in one write from now on (see FrameWriter.coalesce). */
  coalesceWrites(): void {
    this.writer.coalesce();
  }

  /** Sends one frame. Returns false when the caller should wait for 'drain' on the socket. */
  sendFrame(opcode: number, payload: Buffer, fin = true): boolean {
    if (this.closeSent || this.finished) return false;
    this.bytesOut += payload.length;
    const ok = this.writer.frame(opcode, payload, fin);
    this.guard.afterWrite();
    return ok;
  }

  /** Sends several buffers as the payload of one frame. */
  sendFrameParts(opcode: number, parts: readonly Buffer[], fin = true): boolean {
    if (this.closeSent || this.finished) return false;
    let total = 0;
    for (const part of parts) total += part.length;
    this.bytesOut += total;
    const ok = this.writer.frameParts(opcode, parts, total, fin);
    this.guard.afterWrite();
    return ok;
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
    this.pausedByUser = true;
    this.applyPause();
  }

  resumeReading(): void {
    this.pausedByUser = false;
    this.applyPause();
  }

  private applyPause(): void {
    if (this.pausedByUser || this.pausedForBudget || this.inputFailed) this.socket.pause();
    else if (!this.finished) this.socket.resume();
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
   * calls `onDead` (which usually destroys the connection); `stall` reports a slow answer earlier.
   */
  startKeepAlive(intervalMs: number, timeoutMs: number, onDead: () => void, stall?: StallWatch): void {
    this.keepAlive.start(intervalMs, timeoutMs, onDead, stall);
  }

  /** When a keep-alive ping still waiting for any answer was sent (ms since the epoch), or 0. */
  get pingUnansweredSince(): number {
    return this.keepAlive.unansweredSince;
  }

  stopKeepAlive(): void {
    this.keepAlive.stop();
  }

  private receive(chunk: Buffer): void {
    this.keepAlive.noteReceived(Date.now());
    try {
      this.decoder.push(chunk);
    } catch (err) {
      if (err instanceof WebSocketProtocolError) {
        const first = this.failure === undefined && !this.finished;
        if (!this.closeSent) this.close(err.closeCode, err.message);
        // Nothing more the peer sends counts; reading a flood of it would only cost CPU. The socket
        // goes when the (short) linger time is up.
        this.inputFailed = true;
        this.socket.pause();
        this.fail(err, true);
        if (first) this.handler?.onFailed?.(err);
      } else {
        this.fail(err as Error, false);
      }
    }
  }

  onDataFrameStart(header: FrameHeader): void {
    if (header.opcode === Opcode.Continuation) return;
    const binary = header.opcode === Opcode.Binary;
    this.inbound.start(binary, !binary && this.handler?.onText !== undefined);
    if (!this.inbound.collecting) this.handler?.onMessageStart?.(binary);
  }

  onDataPayload(chunk: Buffer): void {
    if (this.closeReceived) return;
    this.bytesIn += chunk.length;
    if (this.inbound.data(chunk)) this.handler?.onMessageData(chunk);
  }

  onDataFrameEnd(header: FrameHeader): void {
    if (!header.fin) return;
    const text = this.inbound.end();
    if (text === undefined) this.handler?.onMessageEnd?.();
    else if (!this.closeReceived) this.handler?.onText?.(text);
  }

  onControlFrame(opcode: number, payload: Buffer): void {
    if (opcode !== Opcode.Close && this.controlRate.exceeded()) throw new WebSocketProtocolError('too many pings', CloseCode.PolicyViolation);
    if (opcode === Opcode.Ping) {
      if (!this.closeSent) this.guard.queuePong(payload);
      return;
    }
    if (opcode === Opcode.Pong) {
      this.keepAlive.notePong();
      this.handler?.onPong?.(payload);
      return;
    }
    if (this.closeReceived) return;
    const { code, reason } = decodeClosePayload(payload);
    if (payload.length > 2) this.inbound.checkCloseReason(payload.subarray(2));
    this.closeReceived = true;
    this.peerCode = code;
    this.peerReason = reason;
    this.handler?.onPeerClose?.(code, reason);
    if (this.options.autoCloseReply && !this.closeSent) this.close(code === CloseCode.NoStatus ? CloseCode.Normal : code, '');
    if (this.closeSent) this.endSocket();
  }

  private writeControl(opcode: number, payload: Buffer): void {
    this.writer.control(opcode, payload);
    this.guard.afterWrite();
  }

  /** The peer stayed over its write budget: it is not reading, so what we send cannot reach it. */
  private stalled(buffered: number): void {
    if (this.finished) return;
    this.failure ??= new WebSocketProtocolError(`the peer did not read what it was sent (${buffered} bytes waiting)`, CloseCode.PolicyViolation);
    if (!this.closeSent) this.close(CloseCode.PolicyViolation, 'the peer does not read');
    this.destroy();
  }

  private endSocket(): void {
    if (this.lingerTimer) return;
    this.socket.end();
    // A peer that broke the protocol is no longer read: its answer to our Close would go unseen.
    const linger = this.inputFailed ? FAILED_LINGER_MS : (this.options.closeLingerMs ?? 5000);
    this.lingerTimer = setTimeout(() => this.socket.destroy(), linger);
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
    this.keepAlive.stop();
    this.guard.stop();
    clearTimer(this.lingerTimer);
    const code = this.closeReceived ? this.peerCode : CloseCode.Abnormal;
    this.handler?.onClosed?.(code, this.peerReason, error ?? this.failure);
  }
}

/** How long a peer that broke the protocol has to take our Close before its socket is destroyed. */
const FAILED_LINGER_MS = 1000;

/** A frame can never be longer than the largest message, when every message has a limit. */
function frameLimitOf(limits: MessageLimits): number | undefined {
  const text = limits.maxTextMessageBytes ?? limits.maxMessageBytes;
  if (limits.maxMessageBytes === undefined || text === undefined) return undefined;
  return Math.max(limits.maxMessageBytes, text);
}
