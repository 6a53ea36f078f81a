import type { Duplex } from 'node:stream';
import {
  CloseCode,
  encodeClosePayload,
  encodeFrameHeader,
  encodeSmallFrame,
  FrameDecoder,
  type FrameHandler,
  type FrameHeader,
  Opcode,
  WebSocketProtocolError,
} from '../protocol/websocket-frame.js';
import { ControlFrameRate, DEFAULT_MAX_CONTROL_FRAMES_PER_SECOND } from '../websocket/control-frame-rate.js';
import { clearTimer } from '../util/clear-timer.js';

export interface PairedConnectionEvents {
  /** Both sockets are gone. */
  onFinished(pair: PairedConnection): void;
  /** A leg let more than the budget pile up; the connection is being closed 1008. */
  onOverBudget?(leg: 'sender' | 'listener', bufferedBytes: number): void;
}

const PING_FRAME = encodeSmallFrame(Opcode.Ping, Buffer.alloc(0));

/** How long a leg may stay open after the other leg has gone away without a Close handshake. */
const ORPHAN_LINGER_MS = 10_000;
/** How long a leg that broke the protocol has to take the relay's Close. */
const FAILED_LEG_LINGER_MS = 1000;

/**
 * One direction of a relayed WebSocket: decodes the (masked) client frames arriving on `from` and
 * writes them to `to` as (unmasked) server frames, one for one, streaming each payload as it
 * arrives. This direction is the only writer of data frames to `to`; control frames the relay
 * itself sends to `to` (its pings, pongs to `to`'s pings, its own Close) wait for a frame boundary.
 * At most one ping and one pong wait at a time, the pong carrying the latest ping's payload, and
 * neither is written while `to` is write-blocked: a peer that pings and never reads costs nothing.
 */
class RelayDirection implements FrameHandler {
  bytes = 0;
  /** No more frames go to `to`: a Close was forwarded or the source is gone. */
  closed = false;
  closeCode: number | undefined;
  private midFrame = false;
  private pingWaiting = false;
  private pongWaiting: Buffer | undefined;
  private drainWait = false;
  private closeAfterFrame: Buffer | undefined;
  private readonly decoder: FrameDecoder;
  private readonly controlRate = new ControlFrameRate(DEFAULT_MAX_CONTROL_FRAMES_PER_SECOND);
  /** The source broke the protocol: it is not read any more (the pair lingers, then goes). */
  private failed = false;

  constructor(
    private readonly from: Duplex,
    readonly to: Duplex,
    private readonly pair: PairedConnection,
  ) {
    this.decoder = new FrameDecoder(this, { expectMasked: true });
  }

  push(chunk: Buffer): void {
    if (this.failed || (this.closed && !this.closeAfterFrame)) return;
    const to = this.to;
    to.cork();
    try {
      this.decoder.push(chunk);
    } catch (err) {
      const code = err instanceof WebSocketProtocolError ? err.closeCode : CloseCode.ProtocolError;
      // Whatever else it sends is of no use, and a flood of it would cost the relay the reading.
      this.failed = true;
      this.from.pause();
      this.pair.protocolError(this, code, (err as Error).message);
    } finally {
      to.uncork();
    }
    if (to.writableNeedDrain && !this.from.isPaused()) {
      this.from.pause();
      to.once('drain', () => {
        if (!this.failed) this.from.resume();
      });
    }
    this.pair.checkBudget(this);
  }

  onDataFrameStart(header: FrameHeader): void {
    if (this.closed && !this.midFrame) return;
    this.to.write(encodeFrameHeader(header.fin, header.opcode, header.length));
    this.midFrame = header.length > 0;
  }

  onDataPayload(chunk: Buffer): void {
    if (this.closed && !this.midFrame) return;
    this.bytes += chunk.length;
    this.to.write(chunk);
  }

  onDataFrameEnd(): void {
    const wasMid = this.midFrame;
    this.midFrame = false;
    if (!wasMid && this.closed && !this.closeAfterFrame) return;
    this.flushControl();
  }

  onControlFrame(opcode: number, payload: Buffer): void {
    // The relay answers pings and takes pongs itself: a flood of them is the relay's CPU, not the peer's traffic.
    if (opcode !== Opcode.Close && this.controlRate.exceeded()) throw new WebSocketProtocolError('too many pings', CloseCode.PolicyViolation);
    if (opcode === Opcode.Ping) {
      // The pong goes back on `from`, whose output belongs to the other direction.
      this.pair.other(this).sendPong(payload);
      return;
    }
    if (opcode === Opcode.Pong) {
      this.pair.markAlive(this.from);
      return;
    }
    if (this.closed) return;
    this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : CloseCode.NoStatus;
    this.closed = true;
    this.to.write(encodeSmallFrame(Opcode.Close, payload));
    this.pair.directionClosed();
  }

  /** Closed, and any Close waiting for the end of an in-flight frame has been written. */
  get finished(): boolean {
    return this.closed && !this.closeAfterFrame;
  }

  /** A relay-made ping for `to`: written at once unless a data frame is in flight or `to` is write-blocked. */
  sendPing(): void {
    if (!this.canSendControl()) return;
    this.pingWaiting = true;
    this.flushWhenPossible();
  }

  /** Answers a ping from `to`; a pong still waiting is replaced (only the latest ping needs one). */
  sendPong(payload: Buffer): void {
    if (!this.canSendControl()) return;
    this.pongWaiting = payload;
    this.flushWhenPossible();
  }

  private canSendControl(): boolean {
    return !this.to.destroyed && (!this.closed || this.closeAfterFrame !== undefined);
  }

  private flushWhenPossible(): void {
    if (this.midFrame) return;
    if (!this.to.writableNeedDrain) return this.writeWaitingControl();
    if (this.drainWait) return;
    this.drainWait = true;
    this.to.once('drain', () => {
      this.drainWait = false;
      if (!this.midFrame && this.canSendControl()) this.writeWaitingControl();
    });
  }

  private writeWaitingControl(): void {
    if (this.pingWaiting) {
      this.pingWaiting = false;
      this.to.write(PING_FRAME);
    }
    const pong = this.pongWaiting;
    if (pong) {
      this.pongWaiting = undefined;
      this.to.write(encodeSmallFrame(Opcode.Pong, pong));
    }
    this.pair.checkBudget(this);
  }

  /**
   * Ends this direction with a Close of the relay's making. When the source is gone mid-frame the
   * frame can never be finished, so the socket is ended without a Close.
   */
  closeWith(code: number, reason: string, sourceGone: boolean): void {
    if (this.closed) return;
    this.closed = true;
    this.closeCode = code;
    const frame = encodeSmallFrame(Opcode.Close, encodeClosePayload(code, reason));
    if (!this.midFrame) {
      if (!this.to.destroyed) this.to.write(frame);
    } else if (!sourceGone) {
      this.closeAfterFrame = frame;
    }
  }

  /**
   * The destination socket is gone: nothing more can be delivered to it. The source is read on
   * (and discarded) to its end, so it is not left paused waiting for a drain that never comes.
   */
  abandon(): void {
    this.closed = true;
    this.closeAfterFrame = undefined;
    this.pingWaiting = false;
    this.pongWaiting = undefined;
    if (this.from.isPaused() && !this.failed) this.from.resume();
  }

  private flushControl(): void {
    if (this.pingWaiting || this.pongWaiting) this.writeWaitingControl();
    if (this.closeAfterFrame) {
      this.to.write(this.closeAfterFrame);
      this.closeAfterFrame = undefined;
      this.pair.directionClosed();
    }
  }
}

/**
 * A sender's WebSocket and a listener's rendezvous WebSocket joined by the relay. Each direction
 * ends on its own Close frame, so half-close passes through; the TCP connections end once both
 * directions are closed. Message boundaries and types are kept because frames pass one for one.
 */
export class PairedConnection {
  readonly senderToListener: RelayDirection;
  readonly listenerToSender: RelayDirection;
  readonly startedAt = Date.now();
  /** When each leg last sent anything (data, ping, pong). */
  private senderActiveAt = Date.now();
  private listenerActiveAt = Date.now();
  private finishedSockets = 0;
  private ended = false;
  private lingerTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly sender: Duplex,
    readonly listener: Duplex,
    /** Bytes a leg may have waiting for it beyond what backpressure lets through (see RelayLimits.maxLegBufferedBytes). */
    private readonly maxLegBufferedBytes: number,
    private readonly events: PairedConnectionEvents,
  ) {
    this.senderToListener = new RelayDirection(sender, listener, this);
    this.listenerToSender = new RelayDirection(listener, sender, this);
    this.wire(sender, this.senderToListener, this.listenerToSender, 'sender');
    this.wire(listener, this.listenerToSender, this.senderToListener, 'listener');
  }

  /** Feeds bytes that arrived with each handshake, then starts the flow. */
  start(senderHead: Buffer, listenerHead: Buffer): void {
    if (senderHead.length > 0) this.senderToListener.push(senderHead);
    if (listenerHead.length > 0) this.listenerToSender.push(listenerHead);
    this.sender.resume();
    this.listener.resume();
  }

  get bytesSenderToListener(): number {
    return this.senderToListener.bytes;
  }

  get bytesListenerToSender(): number {
    return this.listenerToSender.bytes;
  }

  other(direction: RelayDirection): RelayDirection {
    return direction === this.senderToListener ? this.listenerToSender : this.senderToListener;
  }

  /**
   * When the quieter leg last sent anything. Each leg must show signs of life on its own: a
   * listener whose host vanished (no FIN) must not be kept "alive" by its sender's pongs. A leg
   * that has closed its direction owes nothing (it may not even answer pings), and a leg the
   * relay holds paused for backpressure cannot be heard; neither counts as silent.
   */
  get lastActivityAt(): number {
    const now = Date.now();
    const sender = this.senderToListener.closed || this.sender.isPaused() ? now : this.senderActiveAt;
    const listener = this.listenerToSender.closed || this.listener.isPaused() ? now : this.listenerActiveAt;
    return Math.min(sender, listener);
  }

  /** Records a sign of life from one leg (both when none is named). */
  markAlive(leg?: Duplex): void {
    const now = Date.now();
    if (leg !== this.listener) this.senderActiveAt = now;
    if (leg !== this.sender) this.listenerActiveAt = now;
  }

  /** Pings both legs (each answers with a pong, which counts as activity). */
  ping(): void {
    this.senderToListener.sendPing();
    this.listenerToSender.sendPing();
  }

  /**
   * Backpressure keeps what waits for a leg near the socket's high-water mark; a leg over the
   * budget is one the relay cannot make read. It is cut off (1008 to the other side), at once,
   * since what waits for it would never drain.
   */
  checkBudget(direction: RelayDirection): void {
    const buffered = direction.to.writableLength;
    if (buffered <= this.maxLegBufferedBytes || direction.to.destroyed) return;
    const leg = direction.to === this.sender ? 'sender' : 'listener';
    this.events.onOverBudget?.(leg, buffered);
    this.other(direction).closeWith(CloseCode.PolicyViolation, `the ${leg} does not read`, false);
    direction.abandon();
    direction.to.destroy();
  }

  /** Closes both directions from the relay's side (hybrid connection deleted, key revoked, drain). */
  shutdown(code: number, reason: string): void {
    this.senderToListener.closeWith(code, reason, false);
    this.listenerToSender.closeWith(code, reason, false);
    this.directionClosed();
    this.lingerThenDestroy();
  }

  destroy(): void {
    this.sender.destroy();
    this.listener.destroy();
  }

  directionClosed(): void {
    // A Close deferred until an in-flight frame ends must still go out before the sockets end.
    if (this.ended || !this.senderToListener.finished || !this.listenerToSender.finished) return;
    this.ended = true;
    this.sender.end();
    this.listener.end();
    this.lingerThenDestroy();
  }

  protocolError(direction: RelayDirection, code: number, reason: string): void {
    // The misbehaving leg gets a Close with the error; the other side learns its peer went away.
    this.other(direction).closeWith(code, reason, false);
    direction.closeWith(CloseCode.GoingAway, 'peer protocol error', true);
    this.directionClosed();
    this.lingerThenDestroy();
    // It is no longer read, so its goodbye would go unseen: it gets a moment to take the Close.
    const offender = direction === this.senderToListener ? this.sender : this.listener;
    setTimeout(() => offender.destroy(), FAILED_LEG_LINGER_MS).unref();
  }

  private wire(socket: Duplex, inbound: RelayDirection, outbound: RelayDirection, role: 'sender' | 'listener'): void {
    socket.pause();
    socket.on('data', (chunk: Buffer) => {
      this.markAlive(socket);
      inbound.push(chunk);
    });
    const gone = () => {
      // The peer vanished without finishing its direction: the other side learns it went away,
      // and whatever the other side still sends here can no longer be delivered.
      inbound.closeWith(CloseCode.GoingAway, `${role} went away`, true);
      outbound.abandon();
      this.directionClosed();
      this.lingerThenDestroy();
    };
    socket.on('end', () => {
      if (!inbound.closed) gone();
    });
    socket.on('error', gone);
    socket.on('close', () => {
      gone();
      this.finishedSockets++;
      if (this.finishedSockets === 2) {
        clearTimer(this.lingerTimer);
        this.events.onFinished(this);
      }
    });
  }

  private lingerThenDestroy(): void {
    if (this.lingerTimer) return;
    this.lingerTimer = setTimeout(() => this.destroy(), ORPHAN_LINGER_MS);
    this.lingerTimer.unref();
  }
}
