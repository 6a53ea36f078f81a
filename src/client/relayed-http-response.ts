import { STATUS_CODES } from 'node:http';
import { Writable } from 'node:stream';
import { encodeCommand, type HeaderMap } from '../protocol/control-messages.js';
import { isConnectionLevelHeader } from '../protocol/http-headers.js';
import { CloseCode, Opcode } from '../protocol/websocket-frame.js';
import type { WsConnection } from '../websocket/connection.js';
import { clearTimer } from '../util/clear-timer.js';

/** Where a response can go: inline on the control channel, or over a request rendezvous. */
export interface ResponseRoute {
  /** Sends response JSON and its body as one message on the control channel (atomically). */
  sendInline(json: string, body: Buffer | undefined): void;
  /** The rendezvous the request came over, or a newly opened one (`request.address`). */
  rendezvous(): Promise<WsConnection>;
  /** True when the request arrived over a rendezvous (the response must go back over it). */
  readonly onRendezvous: boolean;
}

/** Responses up to this size go on the control channel, as .NET and hyco-https do. */
export const MAX_INLINE_RESPONSE = 64 * 1024;
/** A response still being written after this long switches to the rendezvous (the .NET SDK waits 2 s). */
export const INLINE_FLUSH_MS = 2000;

/**
 * The listener's answer to a relayed HTTP request, shaped like Node's ServerResponse. Small,
 * quick responses travel inline on the control channel; larger or slower ones over a request
 * rendezvous, streamed frame by frame.
 */
export class RelayedHttpResponse extends Writable {
  statusCode = 200;
  statusMessage: string | undefined;
  private readonly headers = new Map<string, { name: string; value: string | string[] }>();
  private buffered: Buffer[] = [];
  private bufferedSize = 0;
  private conn: WsConnection | undefined;
  private switching: Promise<WsConnection> | undefined;
  private sentHeaders = false;
  private flushTimer: NodeJS.Timeout | undefined;
  private wroteBody = false;
  private framesSent = false;
  /** The relay gave up on the request (its sender left): nothing is to be told to it any more. */
  private abandoned = false;

  constructor(
    readonly requestId: string,
    private readonly route: ResponseRoute,
    private readonly isHead = false,
  ) {
    super({ highWaterMark: 64 * 1024 });
  }

  get headersSent(): boolean {
    return this.sentHeaders;
  }

  setHeader(name: string, value: string | number | readonly string[]): this {
    this.assertHeadersOpen();
    this.headers.set(name.toLowerCase(), { name, value: Array.isArray(value) ? [...value] : String(value) });
    return this;
  }

  getHeader(name: string): string | string[] | undefined {
    return this.headers.get(name.toLowerCase())?.value;
  }

  hasHeader(name: string): boolean {
    return this.headers.has(name.toLowerCase());
  }

  removeHeader(name: string): void {
    this.assertHeadersOpen();
    this.headers.delete(name.toLowerCase());
  }

  getHeaders(): Record<string, string | string[]> {
    return Object.fromEntries([...this.headers.entries()].map(([k, v]) => [k, v.value]));
  }

  writeHead(statusCode: number, statusMessage?: string | Record<string, string | number | string[]>, headers?: Record<string, string | number | string[]>): this {
    this.assertHeadersOpen();
    this.statusCode = statusCode;
    if (typeof statusMessage === 'string') this.statusMessage = statusMessage;
    else headers = statusMessage;
    for (const [name, value] of Object.entries(headers ?? {})) this.setHeader(name, value);
    return this;
  }

  /**
   * Sends the head now, over a request rendezvous, instead of holding it with the first 64 KiB or
   * 2 s of body for the control channel: for streams (server-sent events) whose reader waits for
   * the head and each event as it comes, and for relays whose response deadline counts to the head.
   */
  flushHeaders(): void {
    if (this.sentHeaders || this.switching || this.writableEnded || this.destroyed) return;
    this.switchToRendezvous().catch((err: Error) => this.destroy(err));
  }

  /** The relay dropped the request (the sender went away): closes the response, as a ServerResponse whose client left. */
  abandon(): void {
    this.abandoned = true;
    this.destroy();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.isHead || chunk.length === 0) return callback();
    this.wroteBody = true;
    if (this.conn) return this.sendChunk(chunk, callback);
    this.buffered.push(chunk);
    this.bufferedSize += chunk.length;
    if (this.bufferedSize > MAX_INLINE_RESPONSE) {
      this.switchToRendezvous().then(() => callback(), callback);
      return;
    }
    this.flushTimer ??= setTimeout(() => void this.switchToRendezvous().catch((err: Error) => this.destroy(err)), INLINE_FLUSH_MS);
    callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    clearTimer(this.flushTimer);
    const finish = (conn: WsConnection) => {
      conn.sendFrame(this.framesSent ? Opcode.Continuation : Opcode.Binary, Buffer.alloc(0), true);
      conn.close(CloseCode.Normal, 'done');
      callback();
    };
    if (this.conn) return finish(this.conn);
    if (this.switching) {
      this.switching.then(finish, callback);
      return;
    }
    const body = this.wroteBody ? Buffer.concat(this.buffered, this.bufferedSize) : undefined;
    const json = this.responseJson(body !== undefined);
    this.sentHeaders = true;
    if (!this.route.onRendezvous) {
      this.route.sendInline(json, body);
      return callback();
    }
    this.route.rendezvous().then((conn) => {
      conn.sendText(json);
      if (body) conn.sendBinary(body);
      conn.close(CloseCode.Normal, 'done');
      callback();
    }, callback);
  }

  /**
   * A response cut short (the handler failed after its headers went out, or it was destroyed)
   * must not look complete: the rendezvous closes with 1011 before the final frame, and the
   * relay aborts the sender's response instead of waiting for the rest until it times out.
   */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimer(this.flushTimer);
    if (!this.writableFinished) {
      const abort = (conn: WsConnection) => {
        if (!conn.isFinished) conn.terminate(CloseCode.InternalError, 'response aborted');
      };
      if (this.conn) abort(this.conn);
      else if (this.switching) this.switching.then(abort, () => undefined);
      // Nothing went out yet (the head was held for the control channel): the relay must still
      // learn that this response failed, or its sender waits for the deadline. A rendezvous
      // closed before any response is a failed request to the relay (502 to the sender).
      else if (!this.abandoned) this.route.rendezvous().then(abort, () => undefined);
    }
    callback(error);
  }

  private sendChunk(chunk: Buffer, callback: (error?: Error | null) => void): void {
    const conn = this.conn!;
    const ok = conn.sendFrame(this.framesSent ? Opcode.Continuation : Opcode.Binary, chunk, false);
    this.framesSent = true;
    if (conn.isFinished) return callback(new Error('the request rendezvous closed'));
    if (ok) return callback();
    conn.socket.once('drain', () => callback());
  }

  private switchToRendezvous(): Promise<WsConnection> {
    clearTimer(this.flushTimer);
    this.switching ??= this.route.rendezvous().then((conn) => {
      conn.sendText(this.responseJson(true));
      this.sentHeaders = true;
      this.conn = conn;
      const pending = this.buffered;
      this.buffered = [];
      this.bufferedSize = 0;
      for (const chunk of pending) {
        conn.sendFrame(this.framesSent ? Opcode.Continuation : Opcode.Binary, chunk, false);
        this.framesSent = true;
      }
      return conn;
    });
    return this.switching;
  }

  private responseJson(body: boolean): string {
    const responseHeaders: HeaderMap = {};
    for (const { name, value } of this.headers.values()) if (!isConnectionLevelHeader(name)) responseHeaders[name] = value;
    return encodeCommand('response', {
      requestId: this.requestId,
      statusCode: this.statusCode,
      statusDescription: this.statusMessage ?? STATUS_CODES[this.statusCode] ?? '',
      responseHeaders,
      body,
    });
  }

  private assertHeadersOpen(): void {
    if (this.sentHeaders) throw new Error('cannot change headers after they were sent');
  }
}
