import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { CloseCode } from '../protocol/websocket-frame.js';
import {
  decodeCodeAndReason,
  decodeSettings,
  encodeGoAway,
  encodeLongFrameOffer,
  encodePing,
  encodeReset,
  encodeSettings,
  encodeWindow,
  FrameDecoder,
  FrameFlag,
  FrameType,
  MAX_FRAME_PAYLOAD,
  MuxProtocolError,
  ResetCode,
  type Frame,
  type FrameSink,
  type Settings,
} from './frame.js';
import { MuxChannel, type ChannelHost } from './mux-channel.js';
import { WindowTuner } from './window-tuner.js';
import { clearTimer } from '../util/clear-timer.js';

/**
 * The relayed connection a session rides on (a HybridConnectionStream; close() carries a close
 * code). With sendParts, a turn's frames leave as one message past the Duplex's own buffer.
 */
export type MuxTransport = Duplex & {
  close?(code: number, reason: string): void;
  sendParts?(parts: readonly Buffer[]): boolean;
  onceDrained?(callback: (error?: Error) => void): void;
};

export const DEFAULT_STREAM_WINDOW = 256 * 1024;
export const DEFAULT_MAX_STREAMS = 1024;
export const DEFAULT_KEEPALIVE_MS = 15_000;
/** Largest LONG frame payload we take (frame version 2). Payloads are streamed, never held whole. */
export const DEFAULT_MAX_FRAME = 1024 * 1024;
/** Bytes of frames written per scheduling turn before reading gets a turn too. */
const BYTES_PER_TURN = 256 * 1024;
/**
 * A stream that has received less than this cannot be window-limited yet, so its DATA starts no
 * window probe: a short-lived stream (a connection's preamble, one request and its answer) would
 * otherwise cost a PING and its ACK in both directions, extra socket writes on its critical path.
 */
const PROBE_AFTER_BYTES = MAX_FRAME_PAYLOAD;

export interface MuxSessionOptions {
  /** The initiator (sender end) opens streams; the acceptor (listener end) takes them. */
  role: 'initiator' | 'acceptor';
  /** Our receive window per stream (default 256 KiB). */
  window?: number;
  /** Streams we take at once (acceptor); beyond it an OPEN is answered with RESET 4001. */
  maxStreams?: number;
  /**
   * Largest LONG frame payload we take (default DEFAULT_MAX_FRAME); MAX_FRAME_PAYLOAD (16 KiB) speaks
   * frame version 1 only. The acceptor offers it right behind its SETTINGS; the initiator announces
   * it in its SETTINGS when the acceptor offered LONG frames.
   */
  maxFrame?: number;
  /** Initiator: the acceptor's offer of LONG frames (from the acceptance), if it made one. */
  peerMaxFrame?: number;
  /** Acceptor: bytes sent in front of the first frames, in the same message (the azbridge-style acceptance). */
  prefix?: Buffer;
  /** PING after this long without a frame from the peer; the session is lost after twice that (0 = no keep-alive). */
  keepAliveMs?: number;
  /** Acceptor: a stream the peer opened (its first message follows at once). */
  onStream?(channel: MuxChannel): void;
  /** The peer sent GOAWAY: open no more streams here. */
  onGoAway?(code: number, reason: string): void;
  /** The session is over; `error` when it failed (protocol error, lost transport, keep-alive). */
  onClose?(error?: Error): void;
}

/**
 * A multiplexed session over one relayed connection (docs/multiplexing.md). Streams are MuxChannels;
 * their data frames are written round-robin, one frame (at most 16 KiB, within the stream's credit)
 * per stream per round, and only while the transport takes them (write() true, else 'drain').
 * Control frames go first and are bounded: one pending pong, one grant per stream, one reset per
 * stream. A frame that breaks the protocol closes the session with a close code (1002, 1008, 1009).
 */
export class MuxSession implements ChannelHost, FrameSink {
  private readonly decoder: FrameDecoder;
  /** The stream the DATA/OPEN payload being read belongs to (undefined: dropped). */
  private receiving: MuxChannel | undefined;
  /** Largest frame payload we send: 16 KiB unless the peer takes LONG frames. */
  private sendMaxFrame = MAX_FRAME_PAYLOAD;
  private readonly channels = new Map<number, MuxChannel>();
  private readonly ring: MuxChannel[] = [];
  private readonly urgent: Buffer[] = [];
  private readonly grants = new Set<MuxChannel>();
  private pendingPong: Buffer | undefined;
  private peer: Settings | undefined;
  private readonly local: Settings;
  private nextLocalId = 1;
  private highestPeerId = 0;
  private flushScheduled = false;
  private flushing = false;
  private waitingForDrain = false;
  private localGoingAway = false;
  private peerGoingAway = false;
  private closed = false;
  private lastReceived = Date.now();
  private keepAliveTimer: NodeJS.Timeout | undefined;
  private readonly readyWaiters: Array<(error?: Error) => void> = [];
  private closeError: Error | undefined;
  private readonly unusableWaiters: Array<() => void> = [];
  private readonly tuner: WindowTuner;
  /** Frames of the turn being written (sendParts transports). */
  private parts: Buffer[] = [];

  constructor(
    private readonly transport: MuxTransport,
    private readonly options: MuxSessionOptions,
    head?: Buffer,
  ) {
    this.local = { window: options.window ?? DEFAULT_STREAM_WINDOW, maxStreams: options.maxStreams ?? DEFAULT_MAX_STREAMS };
    this.tuner = new WindowTuner(this.local.window);
    const maxFrame = options.maxFrame ?? DEFAULT_MAX_FRAME;
    const long = maxFrame > MAX_FRAME_PAYLOAD;
    if (options.prefix) this.urgent.push(options.prefix);
    if (options.role === 'acceptor') {
      // The offer goes right behind SETTINGS; the initiator's SETTINGS says whether it takes LONG frames too.
      this.decoder = new FrameDecoder(long ? maxFrame : 0);
      this.urgent.push(encodeSettings(this.local));
      if (long) this.urgent.push(encodeLongFrameOffer(maxFrame));
    } else {
      const offered = options.peerMaxFrame !== undefined && options.peerMaxFrame > MAX_FRAME_PAYLOAD;
      this.decoder = new FrameDecoder(long && offered ? maxFrame : 0);
      if (offered) this.sendMaxFrame = options.peerMaxFrame!;
      this.urgent.push(encodeSettings(long && offered ? { ...this.local, maxFrame } : this.local));
    }
    transport.on('data', (chunk: Buffer) => this.receive(chunk));
    transport.on('end', () => this.peerEnded());
    transport.on('error', (err: Error) => this.lost(err));
    transport.on('close', () => this.lost(new Error('the relayed connection closed')));
    transport.on('drain', () => {
      this.waitingForDrain = false;
      this.kick();
    });
    const keepAlive = options.keepAliveMs ?? DEFAULT_KEEPALIVE_MS;
    if (keepAlive > 0) {
      this.keepAliveTimer = setInterval(() => this.keepAliveTick(keepAlive), keepAlive);
      this.keepAliveTimer.unref();
    }
    if (head && head.length > 0) this.receive(head);
    this.kick();
  }

  /** The peer's SETTINGS arrived: streams can be opened. */
  get ready(): boolean {
    return this.peer !== undefined && !this.closed;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get activeStreams(): number {
    return this.channels.size;
  }

  /** Streams the peer takes at once (known once ready). */
  get peerMaxStreams(): number {
    return this.peer?.maxStreams ?? 0;
  }

  /** A new stream can be opened here now. */
  get canOpen(): boolean {
    return this.ready && !this.localGoingAway && !this.peerGoingAway && this.channels.size < this.peerMaxStreams;
  }

  /** Either side said GOAWAY: no new streams here. */
  get goingAway(): boolean {
    return this.localGoingAway || this.peerGoingAway;
  }

  /** Resolves once the session takes no new streams any more (going away or closed). */
  untilUnusable(): Promise<void> {
    if (this.closed || this.goingAway) return Promise.resolve();
    return new Promise((resolve) => this.unusableWaiters.push(resolve));
  }

  private becameUnusable(): void {
    for (const wake of this.unusableWaiters.splice(0)) wake();
  }

  /** Resolves once the peer's SETTINGS arrived; rejects when the session ends first. */
  whenReady(): Promise<void> {
    if (this.ready) return Promise.resolve();
    if (this.closed) return Promise.reject(this.closeError ?? new Error('the session is closed'));
    return new Promise((resolve, reject) => this.readyWaiters.push((error) => (error ? reject(error) : resolve())));
  }

  /** Opens a stream (initiator only, when canOpen). Nothing is sent until it has data or ends. */
  openStream(): MuxChannel {
    if (this.options.role !== 'initiator') throw new Error('only the initiator opens streams');
    if (!this.canOpen) throw new Error('the session takes no new streams');
    const id = this.nextLocalId;
    this.nextLocalId += 2;
    const channel = new MuxChannel(id, this, this.local.window, this.peer!.window, false);
    this.channels.set(id, channel);
    return channel;
  }

  /** No new streams from now on; the session ends once the last stream has. */
  goAway(code: number = CloseCode.GoingAway, reason = 'going away'): void {
    if (this.closed || this.localGoingAway) return;
    this.localGoingAway = true;
    this.becameUnusable();
    this.urgent.push(encodeGoAway(this.highestPeerId, code, reason));
    this.kick();
    this.endIfIdle();
  }

  /** Ends the session now: every stream still open fails (its user sees an error). */
  close(code: number = CloseCode.Normal, reason = ''): void {
    this.fail(undefined, code, reason);
  }

  // ---- ChannelHost ----

  schedule(channel: MuxChannel): void {
    if (this.closed || channel.inRing) return;
    channel.inRing = true;
    this.ring.push(channel);
    this.kick();
  }

  sendReset(channel: MuxChannel, code: number, reason: string): void {
    if (this.closed) return;
    this.urgent.push(encodeReset(channel.id, code, reason));
    this.kick();
  }

  grant(channel: MuxChannel): void {
    if (this.closed) return;
    this.grants.add(channel);
    this.kick();
  }

  windowChange(channel: MuxChannel, credit: number, mayGrow: boolean): number {
    return this.tuner.windowChange(channel, credit, mayGrow, this.channels.size);
  }

  /** Per-stream receive window the session grows its readers' windows to (measured, see WindowTuner). */
  get targetWindow(): number {
    return this.tuner.targetWindow;
  }

  release(channel: MuxChannel): void {
    if (this.channels.get(channel.id) === channel) this.tuner.released(channel);
    this.channels.delete(channel.id);
    this.grants.delete(channel);
    this.endIfIdle();
  }

  // ---- reading ----

  private receive(chunk: Buffer): void {
    if (this.closed) return;
    this.lastReceived = Date.now();
    try {
      this.decoder.push(chunk, this);
    } catch (err) {
      if (err instanceof MuxProtocolError) this.fail(err, err.closeCode, `mux: ${err.message}`);
      else this.fail(err as Error, CloseCode.InternalError, 'mux: internal error');
    }
  }

  onFrame(frame: Frame): void {
    if (this.closed) return;
    if (!this.peer) {
      if (frame.type !== FrameType.Settings) throw new MuxProtocolError('the first frame must be SETTINGS');
      this.peer = decodeSettings(frame.payload, this.options.role === 'acceptor' && this.decoder.maxLongFrame > 0);
      if (this.peer.maxFrame !== undefined) this.sendMaxFrame = this.peer.maxFrame;
      for (const wake of this.readyWaiters.splice(0)) wake();
      return;
    }
    switch (frame.type) {
      case FrameType.Settings:
        throw new MuxProtocolError('SETTINGS sent twice');
      case FrameType.Ping:
        if (frame.flags & FrameFlag.Ack) {
          // Anything but the tuner's probe (the acceptor's offer of LONG frames, read by negotiation.ts
          // from the acceptance, or a late answer) is dropped.
          this.tuner.acknowledged(frame.payload);
          return;
        }
        this.pendingPong = Buffer.from(frame.payload);
        this.kick();
        return;
      case FrameType.GoAway:
        return this.onGoAway(frame.payload);
    }
    const channel = this.channels.get(frame.stream);
    if (!channel) {
      // Frames for a stream that is over (reset here, or refused) are dropped; for one that never
      // existed they are a protocol error.
      if (!this.wasOpened(frame.stream)) throw new MuxProtocolError(`frame for stream ${frame.stream}, which was never opened`);
      return;
    }
    switch (frame.type) {
      case FrameType.Fin:
        return channel.receiveFin();
      case FrameType.Window:
        return channel.receiveWindow(frame.payload.readUInt32BE(0));
      case FrameType.Reset: {
        const { code, reason } = decodeCodeAndReason(frame.payload, 0);
        return channel.receiveReset(code, reason);
      }
    }
  }

  onDataStart(type: FrameType, flags: number, stream: number, length: number): void {
    this.receiving = undefined;
    if (this.closed) return;
    if (!this.peer) throw new MuxProtocolError('the first frame must be SETTINGS');
    if (type === FrameType.Open) {
      this.receiving = this.onOpen(stream);
    } else {
      const channel = this.channels.get(stream);
      // DATA for a stream that is over (reset here, or refused) is dropped; for one that never
      // existed it is a protocol error.
      if (!channel && !this.wasOpened(stream)) throw new MuxProtocolError(`frame for stream ${stream}, which was never opened`);
      if (channel && channel.receivedBytes + length >= PROBE_AFTER_BYTES) this.measure(stream, length);
      this.receiving = channel;
    }
    this.receiving?.receiveStart(flags, length);
  }

  onPayload(piece: Buffer): void {
    if (!this.closed) this.receiving?.receivePiece(piece);
  }

  onDataEnd(): void {
    const channel = this.receiving;
    this.receiving = undefined;
    if (!this.closed) channel?.receiveEnd();
  }

  /** An OPEN: the new stream, or undefined when it was refused. */
  private onOpen(id: number): MuxChannel | undefined {
    if (this.options.role !== 'acceptor') throw new MuxProtocolError('the listener side opened a stream');
    if (id % 2 === 0 || id <= this.highestPeerId) throw new MuxProtocolError(`stream id ${id} is not odd and above ${this.highestPeerId}`);
    this.highestPeerId = id;
    if (this.localGoingAway) return void this.refuse(id, ResetCode.RefusedGoingAway, 'the session is going away');
    if (this.channels.size >= this.local.maxStreams) return void this.refuse(id, ResetCode.RefusedStreamLimit, `at most ${this.local.maxStreams} streams per session`);
    const channel = new MuxChannel(id, this, this.local.window, this.peer!.window, true);
    this.channels.set(id, channel);
    this.options.onStream?.(channel);
    return channel;
  }

  private measure(stream: number, length: number): void {
    const probe = this.tuner.received(stream, length);
    if (probe) {
      this.urgent.push(encodePing(false, probe));
      this.kick();
    }
  }

  private refuse(id: number, code: number, reason: string): void {
    // A peer that keeps opening streams it was refused, without reading our answers, is cut off.
    if (this.urgent.length > this.local.maxStreams + 16) throw new MuxProtocolError('too many refused streams unread', CloseCode.PolicyViolation);
    this.urgent.push(encodeReset(id, code, reason));
    this.kick();
  }

  private onGoAway(payload: Buffer): void {
    if (payload.length < 6) throw new MuxProtocolError('GOAWAY too short');
    const lastStream = payload.readUInt32BE(0);
    const { code, reason } = decodeCodeAndReason(payload, 4);
    this.peerGoingAway = true;
    this.becameUnusable();
    // Streams the peer never saw were not served: they fail, so their users can try elsewhere.
    for (const channel of [...this.channels.values()]) if (channel.id > lastStream && this.options.role === 'initiator') channel.sessionLost('the listener went away before the stream reached it');
    this.options.onGoAway?.(code, reason);
    this.endIfIdle();
  }

  private wasOpened(id: number): boolean {
    if (this.options.role === 'initiator') return id % 2 === 1 && id < this.nextLocalId;
    return id <= this.highestPeerId;
  }

  // ---- writing ----

  private kick(): void {
    if (this.flushScheduled || this.closed || this.waitingForDrain) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  /**
   * Writes control frames, then data round-robin, until the transport pushes back or a turn's budget
   * is spent. With sendParts, everything of the turn leaves as one message (one socket write).
   */
  private flush(): void {
    this.flushScheduled = false;
    if (this.closed || this.waitingForDrain) return;
    const transport = this.transport;
    const direct = transport.sendParts !== undefined;
    let written = 0;
    if (!direct) transport.cork();
    this.flushing = true;
    try {
      if (this.pendingPong) {
        written += this.write(encodePing(true, this.pendingPong));
        this.pendingPong = undefined;
      }
      for (const frame of this.urgent.splice(0)) written += this.write(frame);
      for (const channel of this.grants) {
        const credit = channel.takeGrant();
        if (credit > 0) written += this.write(encodeWindow(channel.id, credit));
      }
      this.grants.clear();
      // Deficit round-robin: each visit adds a quantum (the turn's budget shared by the streams that
      // have data, in frames as large as the peer takes) to the stream's balance, and the stream
      // sends frames while its balance is positive. Fair in bytes, not in frames: a frame never
      // spans two messages, so a stream whose messages are small (short socket reads) would
      // otherwise move less per round than one whose messages are large.
      const quantum = Math.max(MAX_FRAME_PAYLOAD, Math.min(this.sendMaxFrame, Math.floor(BYTES_PER_TURN / Math.max(1, this.ring.length))));
      while (this.ring.length > 0 && this.mayWrite(written, direct)) {
        const channel = this.ring.shift()!;
        // What a visit cut short by the turn's budget kept carries over, up to one more quantum.
        channel.sendBalance = Math.min(channel.sendBalance + quantum, 2 * quantum);
        while (channel.sendBalance > 0 && this.mayWrite(written, direct)) {
          const before = channel.sentBytes;
          const frame = channel.takeFrame(quantum);
          if (!frame) break;
          for (const part of frame) written += this.write(part);
          channel.sendBalance -= channel.sentBytes - before;
          if (!channel.wantsToSend()) break;
        }
        if (channel.wantsToSend()) this.ring.push(channel);
        else {
          channel.inRing = false;
          // A stream with nothing to send saves no balance for later, but keeps what it overdrew.
          channel.sendBalance = Math.min(channel.sendBalance, 0);
        }
      }
    } finally {
      this.flushing = false;
      if (!direct) transport.uncork();
    }
    if (this.closed) return;
    const blocked = direct ? this.sendTurn() : transport.writableNeedDrain;
    if (blocked) this.waitingForDrain = true;
    else if (this.ring.length > 0 || this.urgent.length > 0) this.kick();
    this.endIfIdle();
  }

  /** Whether the turn may write more: budget left, the transport not pushing back, the session open. */
  private mayWrite(written: number, direct: boolean): boolean {
    return written < BYTES_PER_TURN && (direct || !this.transport.writableNeedDrain) && !this.closed;
  }

  /** Sends the turn's frames as one message; true when the transport asks to wait for its drain. */
  private sendTurn(): boolean {
    const parts = this.parts;
    if (parts.length === 0) return false;
    this.parts = [];
    if (this.transport.sendParts!(parts)) return false;
    this.transport.onceDrained!((error) => {
      if (error) return this.lost(error);
      this.waitingForDrain = false;
      this.kick();
    });
    return true;
  }

  private write(buffer: Buffer): number {
    if (this.transport.sendParts) this.parts.push(buffer);
    else this.transport.write(buffer);
    return buffer.length;
  }

  // ---- lifetime ----

  private keepAliveTick(interval: number): void {
    const silent = Date.now() - this.lastReceived;
    if (silent >= 2 * interval) {
      this.fail(new Error(`no answer to keep-alive pings for ${silent} ms`), CloseCode.GoingAway, 'mux: keep-alive timeout');
      return;
    }
    if (silent >= interval) {
      this.urgent.push(encodePing(false, randomBytes(8)));
      this.kick();
    }
  }

  /** After GOAWAY (either way) a session without streams is over: it ends cleanly. */
  private endIfIdle(): void {
    if (this.closed || this.channels.size > 0 || !(this.localGoingAway || this.peerGoingAway)) return;
    // A stream released while frames are being written ends the session only once they are written.
    if (this.urgent.length > 0 || this.flushScheduled || this.flushing) return;
    this.endCleanly();
  }

  private endCleanly(): void {
    this.closed = true;
    this.stopTimers();
    this.becameUnusable();
    this.transport.end();
    this.options.onClose?.();
  }

  /** The peer ended the relayed connection: a clean end after GOAWAY with no stream left, a loss otherwise. */
  private peerEnded(): void {
    if (this.closed) return;
    if (this.channels.size === 0 && this.goingAway) return this.endCleanly();
    this.lost(new Error('the peer closed the session'));
  }

  private lost(error: Error | undefined): void {
    if (this.closed) return;
    this.fail(error, CloseCode.GoingAway, 'mux: session lost');
  }

  private fail(error: Error | undefined, code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.closeError = error;
    this.stopTimers();
    this.becameUnusable();
    const why = error?.message ?? reason;
    for (const channel of [...this.channels.values()]) channel.sessionLost(why);
    this.channels.clear();
    this.ring.length = 0;
    for (const wake of this.readyWaiters.splice(0)) wake(error ?? new Error(why));
    if (this.transport.close) this.transport.close(code, reason.slice(0, 120));
    else this.transport.destroy();
    this.options.onClose?.(error);
  }

  private stopTimers(): void {
    clearTimer(this.keepAliveTimer);
    this.keepAliveTimer = undefined;
  }
}
