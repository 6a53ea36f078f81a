import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { encodeCommand, parseListenerCommand, type RequestCommand, type ResponseCommand } from '../protocol/control-messages.js';
import { isConnectionLevelHeader, isSafeHeaderName, isSafeHeaderValue, sanitizeReasonPhrase } from '../protocol/http-headers.js';
import { CloseCode, Opcode } from '../protocol/websocket-frame.js';
import type { WsConnection } from '../websocket/connection.js';
import { sendRelayError } from './http-errors.js';
import type { HttpRelay, HttpRelayOptions } from './http-relay.js';
import type { ResponseSink } from './listener-channel.js';
import type { ListenerRef, PickCriteria } from './listener-directory.js';

export interface RelayedHttpRequest {
  req: IncomingMessage;
  res: ServerResponse;
  entity: string;
  requestTarget: string;
  /** Whether the Authorization header carried the relay token (then it is not passed on). */
  authorizationConsumed: boolean;
  /** Host name for the Via header. */
  viaHost: string;
}

/**
 * Carries one HTTP request to a listener and its response back (protocol reference §2.2, §2.3).
 * Small, complete bodies travel inline on the control channel; larger, chunked or slow ones use
 * the address-only form and a request rendezvous, streamed in both directions.
 */
export class PendingHttpRequest implements ResponseSink {
  /** 122 random bits from the CSPRNG (randomUUID draws from a buffered pool, randomBytes does not). */
  readonly secret = randomUUID().replace(/-/g, '');
  readonly requestId = randomUUID();
  /** Listener keys this request was offered to. */
  readonly tried = new Set<string>();
  command!: RequestCommand;
  deliveredInline = false;
  rendezvous: WsConnection | undefined;
  private bodyPrefix: Buffer[] = [];
  private bodyComplete = false;
  private responseStarted = false;
  private responseBytes = 0;
  private viaRendezvous = false;
  private done = false;
  private timer: NodeJS.Timeout | undefined;
  private silenceTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly request: RelayedHttpRequest,
    public target: ListenerRef,
    /** The sender's Allowed/DisallowedListeners, which also bind any hand-on to another listener. */
    readonly criteria: PickCriteria,
    private readonly relay: HttpRelay,
    private readonly options: HttpRelayOptions,
  ) {
    this.armTimer('the listener did not respond in time');
    request.res.on('close', () => {
      if (!this.done) this.finish('client went away');
    });
  }

  get finished(): boolean {
    return this.done;
  }

  get hasBody(): boolean {
    const headers = this.request.req.headers;
    return headers['transfer-encoding'] !== undefined || Number(headers['content-length'] ?? 0) > 0;
  }

  /** Reads a small body completely, then calls back with whether it fit within the inline limits. */
  collectSmallBody(onReady: (inline: boolean) => void): void {
    const req = this.request.req;
    let size = 0;
    let decided = false;
    const decide = (inline: boolean) => {
      if (decided) return;
      decided = true;
      clearTimeout(wait);
      if (!inline) req.pause();
      onReady(inline);
    };
    const wait = setTimeout(() => decide(false), this.options.inlineWaitMs);
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      this.bodyPrefix.push(chunk);
      if (size > this.options.inlineBodyLimit) decide(false);
    });
    req.once('end', () => {
      this.bodyComplete = true;
      decide(true);
    });
  }

  inlineBody(): Buffer {
    return Buffer.concat(this.bodyPrefix);
  }

  /** The address-only request went out: a listener that does not come for it in time is demoted. */
  watchForSilence(): void {
    if (this.silenceTimer) clearTimeout(this.silenceTimer);
    const target = this.target;
    this.silenceTimer = setTimeout(() => {
      if (!this.done && !this.rendezvous && this.target === target) this.options.directory.noteSilent(target);
    }, this.options.silenceMs);
    this.silenceTimer.unref();
  }

  /** The listener opened the request rendezvous. */
  attachRendezvous(conn: WsConnection, head: Buffer): void {
    this.rendezvous = conn;
    this.viaRendezvous = true;
    if (this.silenceTimer) clearTimeout(this.silenceTimer);
    this.options.directory.noteResponsive(this.target);
    let expectBody = false;
    conn.attach(
      {
        onMessageStart: () => {
          if (!expectBody) conn.close(CloseCode.PolicyViolation, 'binary message without a response that announced a body');
        },
        onMessageData: (chunk) => {
          if (expectBody) this.onBodyData(chunk);
        },
        onMessageEnd: () => {
          if (expectBody) {
            expectBody = false;
            this.onBodyEnd();
          }
        },
        onText: (text) => {
          let command;
          try {
            command = parseListenerCommand(text);
          } catch (err) {
            conn.close(CloseCode.PolicyViolation, `malformed response: ${(err as Error).message}`);
            this.onAbort('listener sent a malformed response');
            return;
          }
          if (command.kind !== 'response') return;
          this.onResponse(command.response);
          if (command.response.body) expectBody = true;
          else this.onBodyEnd();
        },
        onClosed: () => {
          if (!this.done) this.onAbort('listener closed the request rendezvous');
        },
      },
      head,
    );
    if (!this.deliveredInline) this.sendOverRendezvous(conn);
  }

  onResponse(response: ResponseCommand): void {
    if (this.done || this.responseStarted) return;
    if (response.statusCode < 200) {
      // An interim status (100, 101, ...) cannot be the final answer, and the relay does not relay upgrades.
      this.onAbort(`the listener answered with status ${response.statusCode}, which cannot be relayed as a final response`);
      return;
    }
    this.responseStarted = true;
    const res = this.request.res;
    res.statusCode = response.statusCode;
    const reason = sanitizeReasonPhrase(response.statusDescription ?? '');
    if (reason) res.statusMessage = reason;
    for (const [name, value] of Object.entries(response.responseHeaders ?? {})) {
      if (isConnectionLevelHeader(name) || !isSafeHeaderName(name)) continue;
      const values = Array.isArray(value) ? value : [value];
      if (!values.every(isSafeHeaderValue)) continue;
      try {
        res.setHeader(name, value);
      } catch {
        // Node refuses some values (invalid characters); such a header is dropped, not the response.
      }
    }
    const via = res.getHeader('via');
    res.setHeader('Via', `${via ? `${String(via)}, ` : ''}1.1 ${this.request.viaHost}`);
    this.armTimer('the listener stopped sending the response body');
  }

  onBodyData(chunk: Buffer): void {
    if (this.done || !this.responseStarted) return;
    this.responseBytes += chunk.length;
    this.armTimer('the listener stopped sending the response body');
    const conn = this.rendezvous;
    if (!this.request.res.write(chunk) && conn && this.viaRendezvous) {
      conn.pauseReading();
      this.request.res.once('drain', () => conn.resumeReading());
    }
  }

  onBodyEnd(): void {
    if (this.done) return;
    if (!this.responseStarted) {
      this.onAbort('the listener sent no response');
      return;
    }
    this.request.res.end();
    this.finish(undefined);
  }

  onAbort(reason: string): void {
    if (this.done) return;
    const res = this.request.res;
    if (!res.headersSent && !this.responseStarted) sendRelayError(res, 502, 'ListenerError', `The request could not be completed: ${reason}`);
    else res.destroy();
    this.finish(reason);
  }

  /** Address-only form: the full request and its streamed body go over the rendezvous. */
  private sendOverRendezvous(conn: WsConnection): void {
    const req = this.request.req;
    const hasBody = this.hasBody;
    conn.sendText(encodeCommand('request', { ...this.command, body: hasBody }));
    if (!hasBody) return;
    let first = true;
    const sendChunk = (chunk: Buffer, fin: boolean): boolean => {
      const ok = conn.sendFrame(first ? Opcode.Binary : Opcode.Continuation, chunk, fin);
      first = false;
      return ok;
    };
    for (const chunk of this.bodyPrefix.splice(0)) sendChunk(chunk, false);
    if (this.bodyComplete) {
      sendChunk(Buffer.alloc(0), true);
      return;
    }
    req.removeAllListeners('data');
    req.on('data', (chunk: Buffer) => {
      if (!sendChunk(chunk, false)) {
        req.pause();
        conn.socket.once('drain', () => req.resume());
      }
    });
    req.once('end', () => sendChunk(Buffer.alloc(0), true));
    req.resume();
  }

  private armTimer(reason: string): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.timeout(reason), this.options.responseTimeoutMs);
    this.timer.unref();
  }

  private timeout(reason: string): void {
    if (this.done) return;
    const res = this.request.res;
    if (!this.responseStarted && !res.headersSent) sendRelayError(res, 504, 'GatewayTimeout', `The request was routed to the listener but ${reason}.`);
    else res.destroy();
    this.finish(reason);
  }

  finish(reason: string | undefined): void {
    if (this.done) return;
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.silenceTimer) clearTimeout(this.silenceTimer);
    if (this.rendezvous && !this.rendezvous.isFinished) this.rendezvous.close(CloseCode.Normal, 'done');
    this.relay.forget(this);
    const { req, entity } = this.request;
    this.options.log.info(
      { hyco: entity, method: req.method, target: this.request.requestTarget, status: this.request.res.statusCode, responseBytes: this.responseBytes, outcome: reason ?? 'ok' },
      'http request relayed',
    );
  }
}
