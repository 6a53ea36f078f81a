import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { encodeCommand, parseListenerCommand, type RequestCommand, type ResponseCommand } from '../protocol/control-messages.js';
import { isConnectionLevelHeader, isSafeHeaderName, isSafeHeaderValue, sanitizeReasonPhrase } from '../protocol/http-headers.js';
import { encodeEntityPath } from '../protocol/relay-endpoint.js';
import { CloseCode, Opcode } from '../protocol/websocket-frame.js';
import type { Logger } from '../util/logger.js';
import { WsConnection } from '../websocket/connection.js';
import { acceptUpgrade, checkUpgradeRequest, rejectUpgrade } from '../websocket/server-handshake.js';
import { sendRelayError } from './http-errors.js';
import type { ListenerChannel, ResponseSink } from './listener-channel.js';
import type { ListenerDirectory, ListenerRef, PickCriteria } from './listener-directory.js';
import { parseListenerIdList } from './listener-registry.js';
import { rawHeaderMap, type HcGesture } from './request-url.js';

export interface HttpRelayOptions {
  directory: ListenerDirectory;
  log: Logger;
  /** 60 s in the protocol: until the response starts, and the longest pause inside a response body. */
  responseTimeoutMs: number;
  /** Bodies up to this size go inline on the control channel (64 KiB in the protocol). */
  inlineBodyLimit: number;
  /** How long to wait for a small body to arrive before switching to the rendezvous path. */
  inlineWaitMs: number;
  publicBaseUrl?: string;
}

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

/** Control-channel bodies above this are refused: listeners switch to a rendezvous above 64 KiB. */
const MAX_CONTROL_BODY = 1024 * 1024;

/**
 * Carries one HTTP request to a listener and its response back (protocol reference §2.2, §2.3).
 * Small, complete bodies travel inline on the control channel; larger, chunked or slow ones use
 * the address-only form and a request rendezvous, streamed in both directions.
 */
class PendingHttpRequest implements ResponseSink {
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

  /** The listener opened the request rendezvous. */
  attachRendezvous(conn: WsConnection, head: Buffer): void {
    this.rendezvous = conn;
    this.viaRendezvous = true;
    let textParts: Buffer[] = [];
    let binary = false;
    let expectBody = false;
    conn.attach(
      {
        onMessageStart: (isBinary) => {
          binary = isBinary;
          if (binary && !expectBody) conn.close(CloseCode.PolicyViolation, 'binary message without a response that announced a body');
        },
        onMessageData: (chunk) => {
          if (binary) {
            if (expectBody) this.onBodyData(chunk);
          } else if (textParts.reduce((n, b) => n + b.length, 0) + chunk.length <= 64 * 1024) textParts.push(Buffer.from(chunk));
        },
        onMessageEnd: () => {
          if (binary) {
            if (expectBody) {
              expectBody = false;
              this.onBodyEnd();
            }
            return;
          }
          const text = Buffer.concat(textParts).toString('utf8');
          textParts = [];
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
    if (!this.viaRendezvous && this.responseBytes > MAX_CONTROL_BODY) {
      this.onAbort('response body on the control channel exceeds 1 MiB');
      return;
    }
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
    if (this.rendezvous && !this.rendezvous.isFinished) this.rendezvous.close(CloseCode.Normal, 'done');
    this.relay.forget(this);
    const { req, entity } = this.request;
    this.options.log.info(
      { hyco: entity, method: req.method, target: this.request.requestTarget, status: this.request.res.statusCode, responseBytes: this.responseBytes, outcome: reason ?? 'ok' },
      'http request relayed',
    );
  }
}

export class HttpRelay {
  private readonly bySecret = new Map<string, PendingHttpRequest>();
  private readonly byRequestId = new Map<string, PendingHttpRequest>();

  constructor(private readonly options: HttpRelayOptions) {}

  get pendingCount(): number {
    return this.bySecret.size;
  }

  handle(request: RelayedHttpRequest): void {
    void this.route(request).catch((err: Error) => sendRelayError(request.res, 503, 'ServiceUnavailable', `The relay cannot route this request now: ${err.message}`));
  }

  private async route(request: RelayedHttpRequest): Promise<void> {
    const { req, res, entity } = request;
    const criteria: PickCriteria = {
      allowed: parseListenerIdList(req.headers['microsoft-relay-allowedlisteners']),
      disallowed: parseListenerIdList(req.headers['microsoft-relay-disallowedlisteners']),
    };
    // Hold the body until we know where it goes.
    req.pause();
    const target = await this.options.directory.pick(entity, criteria);
    if (!target) {
      const filtered = criteria.allowed || criteria.disallowed;
      sendRelayError(
        res,
        filtered ? 404 : 502,
        filtered ? 'NoMatchingListener' : 'NoListener',
        filtered ? 'None of the connected listeners meet the AllowedListeners/DisallowedListeners criteria' : `No listener is connected to "${entity}"`,
      );
      return;
    }
    const pending = new PendingHttpRequest(request, target, criteria, this, this.options);
    pending.tried.add(target.key);
    this.bySecret.set(pending.secret, pending);
    this.byRequestId.set(pending.requestId, pending);
    const base = target.channel && !this.options.publicBaseUrl ? target.channel.baseUrl : this.options.publicBaseUrl!;
    pending.command = {
      address: `${base}/$hc/${encodeEntityPath(entity)}?sb-hc-action=request&sb-hc-id=${pending.secret}`,
      id: pending.requestId,
      requestTarget: request.requestTarget,
      method: req.method ?? 'GET',
      remoteEndpoint: { address: req.socket.remoteAddress ?? '', port: req.socket.remotePort ?? 0 },
      requestHeaders: forwardedRequestHeaders(req, request.authorizationConsumed),
    };
    const channel = target.channel;
    // Inline delivery needs the listener's control channel on this node; otherwise the listener comes
    // here over a request rendezvous, so no request or response byte crosses between relay nodes.
    if (!channel) return this.sendAddressOnly(pending);
    if (!pending.hasBody) {
      pending.deliveredInline = true;
      channel.send(encodeCommand('request', { ...pending.command, body: false }));
      return;
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared <= this.options.inlineBodyLimit) {
      pending.collectSmallBody((inline) => {
        if (pending.finished) return;
        if (inline && pending.target.channel?.isOpen) {
          pending.deliveredInline = true;
          pending.target.channel.send(encodeCommand('request', { ...pending.command, body: true }), pending.inlineBody());
        } else {
          void this.sendAddressOnly(pending);
        }
      });
      req.resume();
      return;
    }
    await this.sendAddressOnly(pending);
  }

  /** A listener opened `sb-hc-action=request` (to receive a large request, or to send a large response). */
  rendezvous(req: IncomingMessage, socket: Socket, head: Buffer, gesture: HcGesture): void {
    const pending = gesture.id ? this.bySecret.get(gesture.id) : undefined;
    if (!pending || pending.finished || pending.rendezvous) {
      rejectUpgrade(socket, 403, 'The request rendezvous address is not valid: it expired or was already used');
      return;
    }
    const problem = checkUpgradeRequest(req);
    if (problem) {
      rejectUpgrade(socket, 400, problem);
      return;
    }
    acceptUpgrade(req, socket);
    socket.setNoDelay(true);
    pending.attachRendezvous(new WsConnection(socket, { role: 'server' }), head);
  }

  /** Routes a `response` that arrived on a control channel. */
  responseSink(channel: ListenerChannel, requestId: string): ResponseSink | undefined {
    const pending = this.byRequestId.get(requestId);
    return pending && pending.target.channel === channel && !pending.finished ? pending : undefined;
  }

  /** A control channel closed: requests it had that never reached a rendezvous cannot complete. */
  channelClosed(channel: ListenerChannel): void {
    for (const pending of [...this.bySecret.values()]) {
      if (pending.target.channel === channel) this.listenerLeft(pending);
    }
  }

  /**
   * The listener a request was offered to is gone. A request it never saw (address-only, no
   * rendezvous yet) goes to another listener that meets the sender's criteria; otherwise 502.
   */
  private listenerLeft(pending: PendingHttpRequest): void {
    if (pending.finished || pending.rendezvous) return;
    if (pending.deliveredInline) return pending.onAbort('the listener went away');
    void this.options.directory
      .pick(pending.request.entity, { ...pending.criteria, exclude: pending.tried })
      .then((next) => {
        if (pending.finished || pending.rendezvous) return;
        if (!next) return pending.onAbort('the listener went away');
        pending.target = next;
        pending.tried.add(next.key);
        return this.sendAddressOnly(pending);
      })
      .catch(() => pending.onAbort('the listener went away'));
  }

  abortAll(reason: string): void {
    for (const pending of [...this.bySecret.values()]) pending.onAbort(reason);
  }

  forget(pending: PendingHttpRequest): void {
    this.bySecret.delete(pending.secret);
    this.byRequestId.delete(pending.requestId);
    this.options.directory.settle(pending.secret);
  }

  private async sendAddressOnly(pending: PendingHttpRequest): Promise<void> {
    // Address-only form: method and body are both left out, which is how .NET and hyco-https detect it.
    const json = encodeCommand('request', { address: pending.command.address, id: pending.command.id });
    const delivered = await this.options.directory.deliver(pending.target, json, pending.secret, () => this.listenerLeft(pending));
    if (!delivered) this.listenerLeft(pending);
  }
}

/** The sender's headers as the listener gets them: no connection-level headers, no relay credentials. */
function forwardedRequestHeaders(req: IncomingMessage, authorizationConsumed: boolean): Record<string, string> {
  const connectionTokens = new Set(
    String(req.headers.connection ?? '')
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter(Boolean),
  );
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(rawHeaderMap(req))) {
    const lower = name.toLowerCase();
    if (isConnectionLevelHeader(lower) || connectionTokens.has(lower) || lower === 'servicebusauthorization') continue;
    if (lower === 'authorization' && authorizationConsumed) continue;
    out[name] = value;
  }
  return out;
}
