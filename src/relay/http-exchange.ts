import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { encodeCommand, parseListenerCommand, type RequestCommand, type ResponseCommand } from '../protocol/control-messages.js';
import { isConnectionLevelHeader, isSafeHeaderName, isSafeHeaderValue, sanitizeReasonPhrase } from '../protocol/http-headers.js';
import { CloseCode, Opcode } from '../protocol/websocket-frame.js';
import type { WsConnection } from '../websocket/connection.js';
import { formatDuration } from '../util/duration.js';
import type { HttpDeadlines } from './http-deadlines.js';
import { sendRelayError } from './http-errors.js';
import { ExchangeDeadline, type DeadlineKind } from './http-exchange-deadline.js';
import type { HttpRelay, HttpRelayOptions } from './http-relay.js';
import { encodeAbort, type HybridgeFeature } from '../protocol/hybridge-extensions.js';
import type { ClientConnections } from './http-client-connections.js';
import type { ListenerChannel, ResponseSink } from './listener-channel.js';
import type { ListenerRef, PickCriteria } from './listener-directory.js';
import { clearTimer } from '../util/clear-timer.js';

export interface RelayedHttpRequest {
  req: IncomingMessage;
  res: ServerResponse;
  entity: string;
  requestTarget: string;
  /** Whether the Authorization header carried the relay token (then it is not passed on). */
  authorizationConsumed: boolean;
  /** Host name for the Via header. */
  viaHost: string;
  /** The hybrid connection's response deadline and idle time (or the relay's). */
  deadlines: HttpDeadlines;
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
  private readonly deadline: ExchangeDeadline;
  private silenceTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly request: RelayedHttpRequest,
    public target: ListenerRef,
    /** The sender's Allowed/DisallowedListeners, which also bind any hand-on to another listener. */
    readonly criteria: PickCriteria,
    private readonly relay: HttpRelay,
    private readonly options: HttpRelayOptions,
    private readonly connections: ClientConnections,
  ) {
    this.deadline = new ExchangeDeadline(request.deadlines, (kind, ms) => this.timeout(kind, ms));
    // The exchange's own deadlines bound it; the front door's idle timeout would cut long polls and pauses.
    request.req.socket.setTimeout(0);
    request.res.on('close', () => {
      if (this.done) return;
      // A request the listener took on its control channel has no rendezvous to close: tell it.
      const channel = this.target.channel;
      if (this.deliveredInline && !this.rendezvous && channel?.features.has('abort')) channel.send(encodeAbort(this.requestId));
      this.finish('client went away');
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
      clearTimer(wait);
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
    clearTimer(this.silenceTimer);
    const target = this.target;
    this.silenceTimer = setTimeout(() => {
      if (!this.done && !this.rendezvous && this.target === target) this.options.directory.noteSilent(target);
    }, this.options.silenceMs);
    this.silenceTimer.unref();
  }

  /** The request command for `channel`: with the client connection's id when its listener asked for it. */
  inlineCommand(channel: ListenerChannel, body: boolean): RequestCommand {
    return this.withConnection({ ...this.command, body }, channel.features);
  }

  private withConnection(command: RequestCommand, features: ReadonlySet<HybridgeFeature>): RequestCommand {
    if (!features.has('connection')) return command;
    const socket = this.request.req.socket;
    const channel = this.target.channel;
    if (channel?.features.has('connection')) this.connections.delivered(socket, channel);
    return { ...command, hybridgeConnection: this.connections.idFor(socket) };
  }

  /** The listener opened the request rendezvous (announcing `features` on it). */
  attachRendezvous(conn: WsConnection, head: Buffer, features: ReadonlySet<HybridgeFeature> = new Set()): void {
    this.rendezvous = conn;
    this.viaRendezvous = true;
    clearTimer(this.silenceTimer);
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
    if (!this.deliveredInline) this.sendOverRendezvous(conn, features);
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
    this.deadline.headArrived();
  }

  onBodyData(chunk: Buffer): void {
    if (this.done || !this.responseStarted) return;
    this.responseBytes += chunk.length;
    this.deadline.bytesFlowed();
    const conn = this.rendezvous;
    if (!this.request.res.write(chunk) && conn && this.viaRendezvous) {
      conn.pauseReading();
      this.request.res.once('drain', () => {
        this.deadline.bytesFlowed();
        conn.resumeReading();
      });
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
  private sendOverRendezvous(conn: WsConnection, features: ReadonlySet<HybridgeFeature>): void {
    const req = this.request.req;
    const hasBody = this.hasBody;
    conn.sendText(encodeCommand('request', this.withConnection({ ...this.command, body: hasBody }, features)));
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

  private timeout(kind: DeadlineKind, ms: number): void {
    if (this.done) return;
    const res = this.request.res;
    const { entity, req, requestTarget } = this.request;
    const limit = formatDuration(ms);
    const reason = kind === 'response' ? `the listener did not send the response head within ${limit}` : `the response body paused for longer than ${limit}`;
    this.options.log.warn(
      { hyco: entity, method: req.method, target: requestTarget, deadline: kind, deadlineMs: ms, responseBytes: this.responseBytes },
      kind === 'response' ? 'http response deadline passed: 504' : 'http response idle time passed: response cut',
    );
    if (!this.responseStarted && !res.headersSent) {
      // Azure's wording first (clients match on it), then which deadline it was.
      sendRelayError(res, 504, 'GatewayTimeout', `The request was routed to the listener but the listener did not respond in the required time: no response head within ${limit}, the response deadline of hybrid connection "${entity}".`);
    } else res.destroy();
    this.finish(reason);
  }

  finish(reason: string | undefined): void {
    if (this.done) return;
    this.done = true;
    this.deadline.stop();
    clearTimer(this.silenceTimer);
    // Closing the rendezvous is how the listener learns that the sender went away or the relay gave up.
    if (this.rendezvous && !this.rendezvous.isFinished) this.rendezvous.close(reason ? CloseCode.GoingAway : CloseCode.Normal, reason ? truncateReason(reason) : 'done');
    this.relay.forget(this);
    const { req, entity } = this.request;
    this.options.log.info(
      { hyco: entity, remote: this.command?.remoteEndpoint?.address, method: req.method, target: this.request.requestTarget, status: this.request.res.statusCode, responseBytes: this.responseBytes, outcome: reason ?? 'ok' },
      'http request relayed',
    );
  }
}

/** A WebSocket close reason is at most 123 bytes. */
function truncateReason(reason: string): string {
  return Buffer.from(reason).subarray(0, 120).toString('utf8').replace(/\uFFFD$/, '');
}
