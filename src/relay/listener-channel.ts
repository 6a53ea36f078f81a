import type { Logger } from '../util/logger.js';
import { parseListenerCommand, ControlMessageError, type ResponseCommand } from '../protocol/control-messages.js';
import type { HybridgeFeature } from '../protocol/hybridge-extensions.js';
import { CloseCode } from '../protocol/websocket-frame.js';
import type { WsConnection } from '../websocket/connection.js';
import type { AuthResult, Grant } from './authorizer.js';
import { SILENCE_DEMOTION_MS, type ListenerState } from './listener-selection.js';
import { DEFAULT_NAMESPACE, directoryKey } from './namespaces/namespace-name.js';
import { clearTimer } from '../util/clear-timer.js';

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
  reauthorize(token: string): Promise<AuthResult>;
  /** `error` says why the relay gave up on the channel (a limit, a protocol error), when it did. */
  onClosed(channel: ListenerChannel, code: number, reason: string, error?: Error): void;
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
 * Message sizes, UTF-8 and the write budget are the connection's to enforce (see RelayServer).
 */
export class ListenerChannel {
  readonly connectedAt = Date.now();
  private bodySink: ResponseSink | undefined;
  /** Demoted for new work until then: it left a sender waiting (see listener-selection.ts). */
  private silentUntil = 0;
  private expiryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private closing = false;
  /** hybridge extensions the listener announced (protocol/hybridge-extensions.ts). */
  features: ReadonlySet<HybridgeFeature> = new Set();
  /** The listener's client address (behind a trusted balancer, the real client's), for IP rule changes. */
  clientAddress: string | undefined;
  /** Counts renewToken commands: only the newest one's verdict counts when checks overlap. */
  private renewals = 0;
  /** The port names the listener announced (Hybridge-Ports); undefined when it announced none. */
  ports: readonly string[] | undefined;
  /** The namespace of its hybrid connection (namespaces/namespace-name.ts; '' is the default one). */
  namespace = DEFAULT_NAMESPACE;

  /** Its hybrid connection's key in the listener registry and the cluster's hashes. */
  get directoryKey(): string {
    return directoryKey(this.namespace, this.entity);
  }

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
    conn.attach(
      {
        onMessageStart: () => this.bodyStart(),
        onMessageData: (chunk) => this.bodySink?.onBodyData(chunk),
        onMessageEnd: () => this.bodyEnd(),
        onText: (text) => this.command(text),
        onClosed: (code, reason, error) => this.finished(code, reason, error),
      },
      head,
    );
    conn.startKeepAlive(options.pingIntervalMs, options.pingTimeoutMs, () => {
      this.log.warn({ hyco: entity, listenerId }, 'listener stopped answering pings; dropping its control channel');
      conn.destroy();
    });
    this.scheduleExpiry();
  }

  get isOpen(): boolean {
    return !this.closed && !this.closing;
  }

  /** What listener selection looks at. */
  get selectionState(): ListenerState {
    return { open: this.isOpen, writeBlocked: this.conn.writeBlocked, overBudget: this.conn.overBudget, silentUntil: this.silentUntil };
  }

  /** It did not come to a rendezvous in time: offer it work only when no other listener can take it. */
  markSilent(now = Date.now()): void {
    this.silentUntil = now + SILENCE_DEMOTION_MS;
  }

  markResponsive(): void {
    this.silentUntil = 0;
  }

  /**
   * Sends a command, and its body as the very next binary message so nothing can come between.
   * False when the channel cannot take it: closed, or over its buffer budget (a listener that does
   * not read gets no more work, also from other nodes of a cluster).
   */
  send(json: string, body?: Buffer): boolean {
    if (!this.isOpen || this.conn.overBudget) return false;
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

  /** Binary messages are response bodies, each announced by the response before it. */
  private bodyStart(): void {
    if (!this.bodySink) this.violation(CloseCode.PolicyViolation, 'binary message without a response that announced a body');
  }

  private bodyEnd(): void {
    const sink = this.bodySink;
    this.bodySink = undefined;
    sink?.onBodyEnd();
  }

  private command(text: string): void {
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
        void this.onRenew(command.renewToken.token);
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

  private async onRenew(token: string): Promise<void> {
    const renewal = ++this.renewals;
    const result = await this.hooks.reauthorize(token);
    if (renewal !== this.renewals || this.closed || this.closing) return;
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
    clearTimer(this.expiryTimer);
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

  private finished(code: number, reason: string, error: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    clearTimer(this.expiryTimer);
    this.bodySink?.onAbort('listener control channel closed');
    this.bodySink = undefined;
    this.hooks.onClosed(this, code, reason, error);
  }
}
