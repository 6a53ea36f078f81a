import { Duplex } from 'node:stream';
import type { RemoteEndpointInfo } from '../protocol/control-messages.js';
import { CloseCode, Opcode } from '../protocol/websocket-frame.js';
import type { WsConnection } from '../websocket/connection.js';
import { clearTimer } from '../util/clear-timer.js';

/**
 * What a stream needs from the connection it rides on: a WebSocket connection, or one stream of a
 * multiplexed session (src/mux/), which maps messages, half-close and aborts onto its own frames.
 */
export type StreamChannel = Pick<
  WsConnection,
  'attach' | 'startKeepAlive' | 'receivedBytes' | 'sentBytes' | 'resumeReading' | 'pauseReading' | 'isFinished' | 'outputClosed' | 'sendBinary' | 'sendText' | 'sendFrameParts' | 'terminate' | 'close'
> & {
  /** Emits 'drain' when a write that returned false may go on, and 'close' when the channel is gone. */
  readonly socket: Pick<NodeJS.EventEmitter, 'on' | 'off'>;
  /** Bytes that can be sent now without waiting for the peer's credit (a multiplexed stream only). */
  sendRoom?(): number;
};
import { ConnectionLostError, MessageTooLargeError, RelayTimeoutError } from './errors.js';

export interface StreamInfo {
  /** The connection's tracking id (the sender's sb-hc-id or one the relay made). */
  trackingId: string;
  /** The negotiated WebSocket sub-protocol. */
  protocol?: string;
  /** Listener side: every header of the sender's upgrade request. */
  connectHeaders?: Record<string, string>;
  remoteEndpoint?: RemoteEndpointInfo;
  /** Listener side: what the sender put after the hybrid connection name, and its query string. */
  pathSuffix?: string;
  query?: string;
}

export interface RelayedMessage {
  binary: boolean;
  data: Buffer;
}

export interface StreamOptions {
  /** Largest single message readMessage() accepts (the connection closes with 1009 above it); no limit once read as bytes. */
  maxMessageBytes?: number;
  highWaterMark?: number;
  /**
   * Ping the relay this often while the connection is open (0 = never). Azure Relay closes
   * connections that stay silent for about two minutes; an idle SSH session must survive that.
   * A connection that answers nothing for the same span again is declared lost. Default 30 s.
   */
  keepAliveIntervalMs?: number;
  /**
   * Largest message this stream sends; writes are cut into messages of at most this size. The
   * default (4 MiB) bounds the masked copy; aztunnel peers need 32 KiB (their read limit).
   */
  maxOutgoingMessageBytes?: number;
}

export const DEFAULT_STREAM_KEEPALIVE_MS = 30_000;

interface QueuedMessage {
  binary: boolean;
  chunks: Buffer[];
  size: number;
  complete: boolean;
}

/** Writes above this size are split into several messages, bounding the masked copy. */
const DEFAULT_MAX_OUTGOING_MESSAGE = 4 * 1024 * 1024;
/** Bytes held before the stream is read; beyond this the socket is paused. */
const QUEUE_LIMIT = 256 * 1024;

function isCleanClose(code: number): boolean {
  return code === CloseCode.Normal || code === CloseCode.NoStatus;
}

/**
 * A relayed connection as a Node Duplex. `end()` sends a WebSocket Close for our direction only
 * (half-close); reading goes on until the peer closes its direction. A close other than 1000 (or
 * none at all) from the peer surfaces as an error, never as a clean end.
 *
 * Until the first read the stream keeps whole messages, so a protocol can look at the first one
 * with readMessage() (aztunnel's JSON envelope is a text message) before reading bytes.
 */
export class HybridConnectionStream extends Duplex {
  private streaming = false;
  private queue: QueuedMessage[] = [];
  private queuedBytes = 0;
  private peerClosed = false;
  private peerCode: number = CloseCode.Abnormal;
  private peerReason = '';
  private readonly waiters = new Set<() => void>();
  private readonly maxMessageBytes: number;
  /** The limit of the readMessage() call waiting now, if any; larger messages end the connection. */
  private readLimit: number | undefined;
  private tooLarge: MessageTooLargeError | undefined;
  private outputEnded = false;
  private maxOutgoing: number;
  /** Close codes that end the peer's direction cleanly besides 1000/1005 (see treatCloseAsEnd). */
  private readonly endCodes = new Set<number>();
  /** The peer ended the whole connection (a treatCloseAsEnd code): our writes can go nowhere now. */
  private peerGone = false;

  constructor(
    private readonly conn: StreamChannel,
    readonly info: StreamInfo,
    head?: Buffer,
    options: StreamOptions = {},
  ) {
    super({ allowHalfOpen: true, highWaterMark: options.highWaterMark ?? 64 * 1024 });
    this.maxMessageBytes = options.maxMessageBytes ?? 1024 * 1024;
    this.maxOutgoing = options.maxOutgoingMessageBytes ?? DEFAULT_MAX_OUTGOING_MESSAGE;
    conn.attach(
      {
        onMessageStart: (binary) => {
          if (!this.streaming) this.queue.push({ binary, chunks: [], size: 0, complete: false });
        },
        onMessageData: (chunk) => this.onData(chunk),
        onMessageEnd: () => {
          if (this.streaming) return;
          const last = this.queue[this.queue.length - 1];
          if (last) last.complete = true;
          this.wake();
        },
        onPeerClose: (code, reason) => {
          this.peerClosed = true;
          this.peerCode = code;
          this.peerReason = reason;
          if (this.endCodes.has(code)) this.peerGone = true;
          // A close other than 1000 is an abort of the whole connection, not the end of one
          // direction: fail at once, even when nobody reads yet (a writer would otherwise go on
          // writing into a connection that is gone).
          if (!this.isEnd(code)) this.destroy(new ConnectionLostError(code, reason));
          else if (this.streaming) this.finishReadable();
          this.wake();
        },
        onFailed: (error) => this.destroy(error),
        onClosed: (code, reason, error) => this.onSocketClosed(code, reason, error),
      },
      head,
    );
    const keepAlive = options.keepAliveIntervalMs ?? DEFAULT_STREAM_KEEPALIVE_MS;
    if (keepAlive > 0) {
      conn.startKeepAlive(keepAlive, keepAlive, () => this.destroy(new ConnectionLostError(CloseCode.Abnormal, `no answer to keep-alive pings for ${keepAlive} ms`)));
    }
  }

  get trackingId(): string {
    return this.info.trackingId;
  }

  /** The peer's close code (1006 while open or when it vanished). */
  get closeCode(): number {
    return this.peerCode;
  }

  get closeReason(): string {
    return this.peerReason;
  }

  get bytesReceived(): number {
    return this.conn.receivedBytes;
  }

  get bytesSent(): number {
    return this.conn.sentBytes;
  }

  /**
   * Bytes this stream can send now without queueing them for the peer's credit: a stream of a
   * multiplexed session has a credit window, a relayed connection of its own has none (undefined).
   */
  get sendRoom(): number | undefined {
    return this.conn.sendRoom?.();
  }

  /**
   * Reads the next whole message. Only before the stream is read as bytes; resolves undefined when
   * the peer closed its direction first. A message larger than `maxBytes` (default: the stream's
   * maxMessageBytes) closes the connection with 1009 as soon as that many bytes have arrived, and
   * the call rejects with MessageTooLargeError.
   */
  async readMessage(timeoutMs?: number, maxBytes = this.maxMessageBytes): Promise<RelayedMessage | undefined> {
    if (this.streaming) throw new Error('readMessage() after the stream started reading bytes');
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    this.readLimit = maxBytes;
    try {
      for (;;) {
        const first = this.queue[0];
        if (first && first.size > maxBytes) {
          this.refuseTooLarge(maxBytes);
          throw this.tooLarge!;
        }
        if (first?.complete) {
          this.queue.shift();
          this.queuedBytes -= first.size;
          if (this.queuedBytes < QUEUE_LIMIT) this.conn.resumeReading();
          return { binary: first.binary, data: Buffer.concat(first.chunks, first.size) };
        }
        if (this.destroyed) throw this.tooLarge ?? new ConnectionLostError(this.peerCode, this.peerReason);
        if (this.peerClosed) return undefined;
        if (first) this.conn.resumeReading();
        await this.waitForChange(deadline);
      }
    } finally {
      this.readLimit = undefined;
    }
  }

  /** Sends one message: text when given a string, binary otherwise. */
  sendMessage(data: string | Buffer): Promise<void> {
    // Nothing can be sent once our direction is closed; without this the promise would wait for
    // a 'drain' that a closed socket never emits.
    if (this.destroyed || this.writableEnded || this.conn.isFinished || this.conn.outputClosed) {
      return Promise.reject(new ConnectionLostError(this.peerCode, this.peerReason || 'the connection is closed for sending'));
    }
    const ok = typeof data === 'string' ? this.conn.sendText(data) : this.conn.sendBinary(data);
    return ok ? Promise.resolve() : new Promise((resolve, reject) => this.afterDrain((err) => (err ? reject(err) : resolve())));
  }

  /** Closes both directions (a full close, unlike end()). */
  close(code: number = CloseCode.Normal, reason = ''): void {
    this.conn.terminate(code, reason);
    // We are done with both directions: whatever the peer does afterwards (even an abort) is no
    // longer this stream's error to report.
    if (!this.destroyed) this.destroy();
  }

  override _read(): void {
    if (!this.streaming) {
      this.streaming = true;
      for (const message of this.queue) for (const chunk of message.chunks) this.push(chunk);
      this.queue = [];
      this.queuedBytes = 0;
      if (this.peerClosed) this.finishReadable();
    }
    this.conn.resumeReading();
  }

  /**
   * For peers without half-close (an aztunnel sender ends its connection without a Close, and the
   * relay tells us 1001): from now on a peer Close with `code` is the end of the peer's data, read
   * to the last byte, and the end of the connection: what we still write is dropped, since nobody
   * is left to read it.
   */
  treatCloseAsEnd(code: number): void {
    this.endCodes.add(code);
  }

  /** Caps the size of the messages sent from now on (e.g. once the peer turns out to be an aztunnel). */
  setMaxOutgoingMessageBytes(bytes: number): void {
    if (!Number.isInteger(bytes) || bytes < 1) throw new RangeError('the message size limit must be a positive integer');
    this.maxOutgoing = bytes;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.peerGone) return callback();
    const max = this.maxOutgoing;
    let ok = true;
    if (chunk.length <= max) ok = this.conn.sendBinary(chunk);
    else for (let offset = 0; offset < chunk.length; offset += max) ok = this.conn.sendBinary(chunk.subarray(offset, offset + max));
    if (this.conn.isFinished || this.conn.outputClosed) return callback(new ConnectionLostError(this.peerCode, this.peerReason || 'connection closed'));
    if (ok) callback();
    else this.afterDrain(callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    if (this.peerGone) return callback();
    const parts = chunks.map((c) => c.chunk);
    const total = parts.reduce((n, b) => n + b.length, 0);
    if (total > this.maxOutgoing) {
      this._write(Buffer.concat(parts, total), 'binary', callback);
      return;
    }
    const ok = this.conn.sendFrameParts(Opcode.Binary, parts);
    if (this.conn.isFinished || this.conn.outputClosed) return callback(new ConnectionLostError(this.peerCode, this.peerReason || 'connection closed'));
    if (ok) callback();
    else this.afterDrain(callback);
  }

  /**
   * Sends the buffers as one binary message now, past the Writable's buffer: for a protocol layered
   * on the stream that keeps a bounded queue of its own (a multiplexed session, src/mux). Returns
   * false when the caller should wait for onceDrained() before sending more.
   */
  sendParts(parts: readonly Buffer[]): boolean {
    if (this.peerGone || this.conn.isFinished || this.conn.outputClosed) return true;
    return this.conn.sendFrameParts(Opcode.Binary, parts);
  }

  /** Calls back once sendParts() may go on, or with an error when the connection closed first. */
  onceDrained(callback: (error?: Error) => void): void {
    this.afterDrain(callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.outputEnded = true;
    if (!this.conn.isFinished) this.conn.close(CloseCode.Normal, 'Shutdown');
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // destroy() is an abort: unless our direction already ended cleanly (end()), the peer gets a
    // close other than 1000 and sees an error, never a clean end. close() is the clean full close.
    if (!this.conn.isFinished) {
      if (this.conn.outputClosed) this.conn.terminate();
      else this.conn.terminate(error ? CloseCode.InternalError : CloseCode.GoingAway, 'aborted');
    }
    this.wake();
    callback(error);
  }

  private onData(chunk: Buffer): void {
    if (this.streaming) {
      if (!this.push(chunk)) this.conn.pauseReading();
      return;
    }
    const last = this.queue[this.queue.length - 1];
    if (!last) return;
    last.chunks.push(chunk);
    last.size += chunk.length;
    this.queuedBytes += chunk.length;
    const limit = this.readLimit ?? this.maxMessageBytes;
    if (last.size > limit) {
      this.refuseTooLarge(limit);
      return;
    }
    // While readMessage() waits for an unfinished message, reading goes on (up to the limit above):
    // only a whole message can be handed out, and pausing under it would leave it waiting for nothing.
    const awaited = this.readLimit !== undefined && !this.queue[0]!.complete;
    if (this.queuedBytes >= QUEUE_LIMIT && !awaited) this.conn.pauseReading();
  }

  /** Ends the connection with 1009 because a message is larger than `limit`; a waiting readMessage() rejects with the reason. */
  private refuseTooLarge(limit: number): void {
    this.tooLarge ??= new MessageTooLargeError(limit);
    this.conn.terminate(CloseCode.MessageTooBig, 'message too big');
    if (!this.destroyed) this.destroy(this.tooLarge);
    this.wake();
  }

  private isEnd(code: number): boolean {
    return isCleanClose(code) || this.endCodes.has(code);
  }

  private finishReadable(): void {
    if (this.isEnd(this.peerCode)) this.push(null);
    else this.destroy(new ConnectionLostError(this.peerCode, this.peerReason));
  }

  private onSocketClosed(code: number, reason: string, error: Error | undefined): void {
    this.wake();
    if (this.destroyed) return;
    if (!this.peerClosed) {
      this.destroy(error ?? new ConnectionLostError(code, reason || 'the connection ended without a close handshake'));
      return;
    }
    if (!this.outputEnded && !this.writableFinished && !this.peerGone) {
      // The peer finished and the socket is gone while we still had a direction open: whatever
      // we wrote or still mean to write cannot arrive, which is an error even after a clean
      // close of the peer's direction.
      this.destroy(new ConnectionLostError(CloseCode.Abnormal, 'the connection ended while our direction was still open'));
    }
  }

  private afterDrain(callback: (error?: Error) => void): void {
    const socket = this.conn.socket;
    const done = (error?: Error) => {
      socket.off('drain', onDrain);
      socket.off('close', onClose);
      callback(error);
    };
    const onDrain = () => done();
    const onClose = () => done(new ConnectionLostError(this.peerCode, this.peerReason || 'connection closed'));
    socket.on('drain', onDrain);
    socket.on('close', onClose);
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  private waitForChange(deadline: number | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        this.waiters.delete(done);
        clearTimer(timer);
        resolve();
      };
      this.waiters.add(done);
      if (deadline !== undefined) {
        timer = setTimeout(() => {
          this.waiters.delete(done);
          reject(new RelayTimeoutError('no message arrived in time'));
        }, Math.max(0, deadline - Date.now()));
      }
    });
  }
}
