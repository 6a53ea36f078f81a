import type { Logger } from '../util/logger.js';
import { MAX_CONTROL_MESSAGE_BYTES, parseListenerCommand, ControlMessageError, type ResponseCommand } from '../protocol/control-messages.js';
import { CloseCode } from '../protocol/websocket-frame.js';
import type { WsConnection } from '../websocket/connection.js';
import type { AuthResult, Grant } from './authorizer.js';

/** Receives one HTTP response coming back from a listener (headers, then streamed body). */
export interface ResponseSink {
  onResponse(response: ResponseCommand): void;
  onBodyData(chunk: Buffer): void;
  onBodyEnd(): void;
  onAbort(reason: string): void;
}

export interface ListenerChannelHooks {
  /** The sink for a response to a request this channel was given, if still waiting. */
  findResponseSink(channel: ListenerChannel, requestId: string): ResponseSink | undefined;
  /** Checks a renewToken's token for this channel's entity. */
  reauthorize(token: string): AuthResult;
  onClosed(channel: ListenerChannel, code: number, reason: string): void;
}

export interface ListenerChannelOptions {
  pingIntervalMs: number;
  pingTimeoutMs: number;
}

const DISCARD: ResponseSink = { onResponse() {}, onBodyData() {}, onBodyEnd() {}, onAbort() {} };
/** setTimeout cannot wait longer than 2^31-1 ms; long expiries are re-armed in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The relay's end of a listener's control channel: sends `accept` and `request` commands, takes
 * `response` and `renewToken`, enforces token expiry (close 1008) and watches liveness with pings.
 */
export class ListenerChannel {
  readonly connectedAt = Date.now();
  private textParts: Buffer[] = [];
  private textSize = 0;
  private inBinary = false;
  private bodySink: ResponseSink | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private closing = false;

  constructor(
    readonly conn: WsConnection,
    readonly entity: string,
    /** The listener's id (its sb-hc-id without service suffixes), used by Allowed/DisallowedListeners. */
    readonly listenerId: string,
    public grant: Grant,
    /** Base URL (ws[s]://host:port) this listener reached us on; rendezvous addresses use it. */
    readonly baseUrl: string,
    private readonly hooks: ListenerChannelHooks,
    private readonly log: Logger,
    options: ListenerChannelOptions,
    head?: Buffer,
  ) {
    // Accept and request commands for many connections share this channel.
    conn.coalesceWrites();
    conn.attach({
      onMessageStart: (binary) => this.messageStart(binary),
      onMessageData: (chunk) => this.messageData(chunk),
      onMessageEnd: () => this.messageEnd(),
      onClosed: (code, reason) => this.finished(code, reason),
    }, head);
    conn.startKeepAlive(options.pingIntervalMs, options.pingTimeoutMs, () => {
      this.log.warn({ hyco: entity, listenerId }, 'listener stopped answering pings; dropping its control channel');
      conn.destroy();
    });
    this.scheduleExpiry();
  }

  get isOpen(): boolean {
    return !this.closed && !this.closing;
  }

  /** Sends a command, and its body as the very next binary message so nothing can come between. */
  send(json: string, body?: Buffer): boolean {
    if (!this.isOpen) return false;
    this.conn.sendText(json);
    if (body) this.conn.sendBinary(body);
    return true;
  }

  close(code: number, reason: string): void {
    if (this.closed || this.closing) return;
    this.closing = true;
    this.conn.close(code, reason);
    // A listener that does not answer the Close promptly is cut off.
    const timer = setTimeout(() => this.conn.destroy(), 5000);
    timer.unref();
  }

  private messageStart(binary: boolean): void {
    this.inBinary = binary;
    if (!binary) return;
    if (!this.bodySink) this.violation(CloseCode.PolicyViolation, 'binary message without a response that announced a body');
  }

  private messageData(chunk: Buffer): void {
    if (this.inBinary) {
      this.bodySink?.onBodyData(chunk);
      return;
    }
    this.textSize += chunk.length;
    if (this.textSize > MAX_CONTROL_MESSAGE_BYTES) {
      this.violation(CloseCode.MessageTooBig, `control message larger than ${MAX_CONTROL_MESSAGE_BYTES} bytes`);
      return;
    }
    this.textParts.push(Buffer.from(chunk));
  }

  private messageEnd(): void {
    if (this.inBinary) {
      const sink = this.bodySink;
      this.bodySink = undefined;
      sink?.onBodyEnd();
      return;
    }
    const text = Buffer.concat(this.textParts).toString('utf8');
    this.textParts = [];
    this.textSize = 0;
    if (this.closed) return;
    let command;
    try {
      command = parseListenerCommand(text);
    } catch (err) {
      this.violation(CloseCode.PolicyViolation, `malformed control message: ${(err as ControlMessageError).message}`);
      return;
    }
    switch (command.kind) {
      case 'response':
        this.onResponse(command.response);
        break;
      case 'renewToken':
        this.onRenew(command.renewToken.token);
        break;
      default:
        this.log.debug({ hyco: this.entity, listenerId: this.listenerId, command: command.name.slice(0, 64) }, 'ignoring unknown control command');
    }
  }

  private onResponse(response: ResponseCommand): void {
    if (this.bodySink) {
      this.violation(CloseCode.PolicyViolation, 'a response arrived before the previous response body');
      return;
    }
    const sink = this.hooks.findResponseSink(this, response.requestId);
    if (!sink) this.log.debug({ hyco: this.entity, requestId: response.requestId }, 'response for an unknown or finished request');
    const target = sink ?? DISCARD;
    target.onResponse(response);
    if (response.body) this.bodySink = target;
    else target.onBodyEnd();
  }

  private onRenew(token: string): void {
    const result = this.hooks.reauthorize(token);
    if (!result.ok) {
      this.log.warn({ hyco: this.entity, listenerId: this.listenerId, reason: result.reason }, 'renewToken rejected; closing control channel');
      this.close(CloseCode.PolicyViolation, `renewToken rejected: ${result.reason}`);
      return;
    }
    this.grant = result.grant;
    this.scheduleExpiry();
    this.log.debug({ hyco: this.entity, listenerId: this.listenerId }, 'token renewed');
  }

  private scheduleExpiry(): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    const expiresAt = this.grant.expiresAt;
    if (!Number.isFinite(expiresAt)) return;
    const wait = expiresAt * 1000 - Date.now();
    if (wait <= 0) {
      this.close(CloseCode.PolicyViolation, 'token expired');
      return;
    }
    this.expiryTimer = setTimeout(() => this.scheduleExpiry(), Math.min(wait + 50, MAX_TIMER_MS));
    this.expiryTimer.unref();
  }

  private violation(code: number, reason: string): void {
    // The rest of an offending message keeps arriving after we decided to close; one report is enough.
    if (this.closing || this.closed) return;
    this.log.warn({ hyco: this.entity, listenerId: this.listenerId, reason }, 'listener broke the protocol; closing its control channel');
    this.bodySink?.onAbort(reason);
    this.bodySink = undefined;
    this.close(code, reason);
  }

  private finished(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.bodySink?.onAbort('listener control channel closed');
    this.bodySink = undefined;
    this.hooks.onClosed(this, code, reason);
  }
}
