import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { AcceptCommand } from '../protocol/control-messages.js';
import { FEATURES_HEADER, LISTENER_FEATURES } from '../protocol/hybridge-extensions.js';
import { buildHybridConnectionUrl } from '../protocol/relay-endpoint.js';
import { parseProtocolList } from '../protocol/websocket-handshake.js';
import { clientConnection, openWebSocket, WebSocketHandshakeError } from '../websocket/client-handshake.js';
import { acceptContext, headerValue, isAcceptAsWebSocket, type AcceptAsWebSocket, type AcceptDecision, type AcceptHandler } from './accept-context.js';
import { resolveConnection, type ResolvedConnection } from './connection-options.js';
import { ControlSession, type ControlSessionEnd } from './control-session.js';
import { AuthorizationFailedError, EndpointNotFoundError, type RelayError } from './errors.js';
import { toRelayError } from './handshake-errors.js';
import { dispatchInlineRequest, dispatchRendezvousRequest, type RequestHandler } from './http-dispatch.js';
import { HybridConnectionStream } from './hybrid-connection-stream.js';
import {
  DEFAULT_CONNECT_RETRY_MS,
  DEFAULT_KEEPALIVE_INTERVAL_MS,
  DEFAULT_RECONNECT_DELAYS_MS,
  DEFAULT_STALL_PROBE_INTERVAL_MS,
  DEFAULT_STALL_TIMEOUT_MS,
  type ListenerEvents,
  type ListenerOptions,
} from './listener-options.js';
import { fetchToken } from './token-fetch.js';
import { clearTimer } from '../util/clear-timer.js';

export type { AcceptAsWebSocket, AcceptContext, AcceptDecision, AcceptHandler } from './accept-context.js';
export * from './listener-options.js';

/**
 * The listening side of a hybrid connection (the .NET SDK's HybridConnectionListener). It keeps a
 * control channel open and reconnects it on any failure; each accepted connection is a separate
 * rendezvous socket, so a control-channel reconnect never drops connections already accepted.
 */
export class HybridConnectionListener extends EventEmitter<ListenerEvents> {
  readonly connection: ResolvedConnection;
  readonly listenerId: string;
  private session: ControlSession | undefined;
  /** A second control channel being opened because the current one stalled. */
  private replacing: Promise<void> | undefined;
  private running = false;
  private closing = false;
  private online = false;
  private wakeDelay: (() => void) | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private readonly pending: HybridConnectionStream[] = [];
  private readonly takers: ((stream: HybridConnectionStream | undefined) => void)[] = [];
  private loop: Promise<void> | undefined;
  /** Requests taken on the control channel, until their response closes: how to abort each. */
  private readonly inlineRequests = new Map<string, () => void>();

  private readonly options: ListenerOptions;

  /** Options, or a connection string alone (with `entityPath` when it has no EntityPath), as the .NET SDK takes. */
  constructor(options: ListenerOptions | string, entityPath?: string) {
    super();
    this.options = typeof options === 'string' ? { connectionString: options, entityPath } : options;
    this.connection = resolveConnection(this.options);
    this.listenerId = this.options.listenerId ?? randomUUID();
  }

  get isOnline(): boolean {
    return this.online;
  }

  set acceptHandler(handler: AcceptHandler | undefined) {
    this.options.acceptHandler = handler;
  }

  set requestHandler(handler: RequestHandler | undefined) {
    this.options.requestHandler = handler;
  }

  /** Connects and resolves once online; rejects (and stops) if the first attempt fails. */
  async open(): Promise<void> {
    if (this.running) throw new Error('listener already started');
    this.running = true;
    try {
      await this.connectOnce();
    } catch (err) {
      // Stopped, as documented: open() (or start()) may be called again.
      this.running = false;
      throw err;
    }
    this.loop = this.reconnectLoop(true);
  }

  /** Starts connecting in the background; failures are 'error' events and it keeps retrying. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.reconnectLoop(false);
  }

  /** Closes the control channel. Connections already accepted stay open. */
  async close(): Promise<void> {
    this.closing = true;
    this.running = false;
    this.wakeDelay?.();
    clearTimer(this.renewTimer);
    this.session?.close();
    this.connection.warm?.close();
    await this.loop;
    for (const taker of this.takers.splice(0)) taker(undefined);
    for (const stream of this.pending.splice(0)) stream.destroy();
  }

  /** The next accepted connection (when no 'connection' listener is attached); undefined after close(). */
  acceptConnection(): Promise<HybridConnectionStream | undefined> {
    const ready = this.pending.shift();
    if (ready) return Promise.resolve(ready);
    if (this.closing) return Promise.resolve(undefined);
    return new Promise((resolve) => this.takers.push(resolve));
  }

  private async connectOnce(): Promise<void> {
    const opened = await this.openSession();
    if (!opened) return;
    this.adopt(opened.session, opened.expiresAt);
    this.online = true;
    this.emit('online');
  }

  /** A new control channel, not yet in use; undefined when close() came first (it is closed then). */
  private async openSession(): Promise<{ session: ControlSession; expiresAt: number | undefined } | undefined> {
    const c = this.connection;
    // Azure ignores the Hybridge-Features header; a hybridge relay then sends its extension commands (hybridge-extensions.ts).
    const headers: Record<string, string> = { ...this.options.headers, [FEATURES_HEADER]: LISTENER_FEATURES };
    let expiresAt: number | undefined;
    let queryToken: string | undefined;
    if (c.tokenProvider) {
      const token = await fetchToken(c.tokenProvider, c.audience);
      if (c.tokenInQuery) queryToken = token.token;
      else headers.ServiceBusAuthorization = token.token;
      expiresAt = token.expiresAt;
    }
    const url = buildHybridConnectionUrl(c.endpoint, c.entityPath, 'listen', { trackingId: this.listenerId, token: queryToken });
    let session: ControlSession;
    try {
      session = await ControlSession.open(
        url,
        headers,
        c,
        c.operationTimeoutMs,
        {
          onAccept: (command) => void this.accept(command),
          onRequest: (command) => this.request(command),
          onProtocolError: (error) => this.emitError(error),
          onAbort: (requestId) => this.inlineRequests.get(requestId)?.(),
          onConnectionClosed: (connection) => this.emit('clientConnectionClosed', connection),
        },
        this.options.connectRetryMs ?? DEFAULT_CONNECT_RETRY_MS,
      );
    } catch (err) {
      throw toRelayError(err, 'listener', `listening on "${c.entityPath}"`, c.endpoint);
    }
    if (this.closing) {
      session.close();
      return undefined;
    }
    return { session, expiresAt };
  }

  /** Makes `session` the control channel: responses and token renewals go to it from now on. */
  private adopt(session: ControlSession, expiresAt: number | undefined): void {
    this.session = session;
    const o = this.options;
    const interval = o.keepAliveIntervalMs ?? DEFAULT_KEEPALIVE_INTERVAL_MS;
    const timeout = o.keepAliveTimeoutMs ?? interval;
    const probe = o.stallProbeIntervalMs ?? DEFAULT_STALL_PROBE_INTERVAL_MS;
    const stallAfter = o.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
    const stall = probe > 0 && stallAfter > 0 && stallAfter < timeout ? { afterMs: stallAfter, onStalled: () => this.replace(session) } : undefined;
    session.keepAlive(stall ? Math.min(interval, probe) : interval, timeout, stall);
    if (expiresAt !== undefined) this.scheduleRenewal(expiresAt);
    // The first rendezvous need not start cold: warm the host this listener is registered with (no pre-connected sockets through a proxy).
    const { host, port, secure } = this.connection.endpoint;
    if (!this.connection.proxy.route(host, port, secure)) this.connection.warm?.warm({ host, port, secure });
  }

  /**
   * The current channel stopped answering: open a second one beside it (the first may still
   * recover and keeps taking commands meanwhile). When the second is up it takes over, and the
   * first is closed; a relay routes new work to the channel that answers.
   */
  private replace(stalled: ControlSession): void {
    if (this.replacing || this.closing || this.session !== stalled) return;
    this.emit('stalled', this.options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS);
    this.replacing = (async () => {
      try {
        const opened = await this.openSession();
        if (!opened) return;
        const old = this.session;
        this.adopt(opened.session, opened.expiresAt);
        this.online = true;
        this.emit('online');
        old?.close();
      } catch (err) {
        // The reconnect loop takes over if the stalled channel dies.
        this.emitError(err as Error);
      } finally {
        this.replacing = undefined;
      }
    })();
  }

  private async reconnectLoop(alreadyOnline: boolean): Promise<void> {
    const delays = this.options.reconnectDelaysMs ?? DEFAULT_RECONNECT_DELAYS_MS;
    let attempt = 0;
    let authFailures = 0;
    let needConnect = !alreadyOnline;
    while (!this.closing) {
      if (needConnect) {
        try {
          this.emit('connecting');
          await this.connectOnce();
          attempt = 0;
          authFailures = 0;
        } catch (err) {
          const error = err as RelayError;
          this.emitError(error);
          authFailures = isAuthorizationFailure(error) ? authFailures + 1 : 0;
          if (error instanceof EndpointNotFoundError || authFailures >= (this.options.maxAuthorizationFailures ?? Infinity)) {
            this.running = false;
            this.emit('offline', error);
            return;
          }
          await this.delay(delays[Math.min(attempt++, delays.length - 1)]!);
          continue;
        }
      }
      needConnect = true;
      // close() while connecting: connectOnce() shut the channel it had just opened.
      if (!this.session) continue;
      const ended = await this.currentSessionEnded();
      if (!ended) {
        // The stalled channel died, but the channel opened beside it is up: carry on with that one.
        needConnect = false;
        continue;
      }
      this.session = undefined;
      this.online = false;
      clearTimer(this.renewTimer);
      if (this.closing) break;
      if (ended.code === 1001 && /deleted/i.test(ended.reason)) {
        const error = new EndpointNotFoundError(404, ended.reason, `listening on "${this.connection.entityPath}"`, false);
        this.emitError(error);
        this.running = false;
        this.emit('offline', error);
        return;
      }
      this.emitError(new Error(`${describeEnd(ended)}; reconnecting`));
      await this.delay(delays[Math.min(attempt++, delays.length - 1)]!);
    }
    this.emit('offline');
  }

  /**
   * Waits until the control channel in use ends, following replacements; undefined when it ended
   * but a replacement opened meanwhile took over.
   */
  private async currentSessionEnded(): Promise<ControlSessionEnd | undefined> {
    for (;;) {
      const session = this.session!;
      const ended = await session.ended;
      if (this.session !== session) continue;
      if (this.replacing && !this.closing) {
        this.online = false;
        this.emitError(new Error(`${describeEnd(ended)}; the control channel being opened beside it takes over`));
        await this.replacing;
        if (this.session !== session) return undefined;
      }
      return ended;
    }
  }

  private delay(ms: number): Promise<void> {
    if (this.closing) return Promise.resolve();
    const jittered = ms * (1 + Math.random() * 0.2);
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, jittered);
      this.wakeDelay = () => {
        clearTimer(timer);
        resolve();
      };
    });
  }

  /** Renews well before expiry: at 80 % of the remaining lifetime, at most 5 minutes early. */
  private scheduleRenewal(expiresAt: number): void {
    clearTimer(this.renewTimer);
    const remaining = expiresAt - Date.now();
    const wait = Math.max(1000, Math.min(remaining * 0.8, remaining - Math.min(5 * 60_000, remaining * 0.2)));
    this.renewTimer = setTimeout(() => void this.renew(), Math.min(wait, 2 ** 31 - 1));
    this.renewTimer.unref();
  }

  private async renew(): Promise<void> {
    const c = this.connection;
    if (!c.tokenProvider || !this.session) return;
    try {
      const token = await fetchToken(c.tokenProvider, c.audience);
      this.session?.renewToken(token.token);
      this.scheduleRenewal(token.expiresAt);
    } catch (err) {
      this.emitError(new Error(`token renewal failed: ${(err as Error).message}`));
      this.renewTimer = setTimeout(() => void this.renew(), 5000);
      this.renewTimer.unref();
    }
  }

  private async accept(command: AcceptCommand): Promise<void> {
    const context = acceptContext(command, this.connection.entityPath);
    let decision: AcceptDecision = true;
    if (this.options.acceptHandler) {
      try {
        decision = await this.options.acceptHandler(context);
      } catch (err) {
        this.emitError(err as Error);
        decision = { statusCode: 502, statusDescription: "The Listener's custom AcceptHandler threw an exception. See Listener logs for details." };
      }
    }
    if (isAcceptAsWebSocket(decision)) return this.acceptAsWebSocket(command.address, context.trackingId, decision);
    if (decision !== true && decision !== undefined && this.options.acceptHandler) {
      const status = decision === false ? { statusCode: 400, statusDescription: 'Rejected by the listener' } : decision;
      return this.reject(command.address, status.statusCode, status.statusDescription ?? 'Rejected by the listener');
    }
    if (this.pending.length >= (this.options.maxPendingConnections ?? 1000) && this.listenerCount('connection') === 0) {
      return this.reject(command.address, 503, 'The listener has too many connections waiting to be accepted');
    }
    try {
      const protocols = parseProtocolList(headerValue(command.connectHeaders, 'sec-websocket-protocol')).slice(0, 1);
      const opened = await openWebSocket(command.address, { protocols, timeoutMs: Math.min(this.connection.operationTimeoutMs, 20_000), tls: this.connection.tls, proxy: this.connection.proxy, warm: this.connection.warm });
      const stream = new HybridConnectionStream(
        clientConnection(opened),
        { trackingId: context.trackingId, protocol: opened.protocol, connectHeaders: context.connectHeaders, remoteEndpoint: context.remoteEndpoint, pathSuffix: context.pathSuffix, query: context.query },
        opened.head,
        { keepAliveIntervalMs: this.options.keepAliveIntervalMs },
      );
      this.deliver(stream);
    } catch (err) {
      this.emitError(toRelayError(err, 'listener', `accepting connection ${context.trackingId}`));
    }
  }

  private async acceptAsWebSocket(address: string, trackingId: string, taker: AcceptAsWebSocket): Promise<void> {
    const protocols = taker.subProtocol === undefined ? [] : [taker.subProtocol];
    let opened: Awaited<ReturnType<typeof openWebSocket>>;
    try {
      opened = await openWebSocket(address, { protocols, timeoutMs: Math.min(this.connection.operationTimeoutMs, 20_000), tls: this.connection.tls, proxy: this.connection.proxy });
    } catch (err) {
      const error = toRelayError(err, 'listener', `accepting connection ${trackingId}`);
      taker.onFailed(error);
      this.emitError(error);
      return;
    }
    taker.onWebSocket(clientConnection(opened), opened.head);
  }

  private async reject(address: string, statusCode: number, description: string): Promise<void> {
    const url = `${address}&sb-hc-statusCode=${statusCode}&sb-hc-statusDescription=${encodeURIComponent(description)}`;
    try {
      const opened = await openWebSocket(url, { timeoutMs: 20_000, tls: this.connection.tls, proxy: this.connection.proxy, warm: this.connection.warm });
      opened.socket.destroy();
    } catch (err) {
      // The relay confirms a rejection with 410 Gone.
      if (err instanceof WebSocketHandshakeError && err.statusCode === 410) return;
      this.emitError(toRelayError(err, 'listener', 'rejecting a connection'));
    }
  }

  private deliver(stream: HybridConnectionStream): void {
    const taker = this.takers.shift();
    if (taker) return taker(stream);
    if (this.listenerCount('connection') > 0) {
      this.emit('connection', stream);
      return;
    }
    this.pending.push(stream);
    stream.once('close', () => {
      const i = this.pending.indexOf(stream);
      if (i >= 0) this.pending.splice(i, 1);
    });
  }

  private request(command: Parameters<typeof dispatchInlineRequest>[1]) {
    const ctx = {
      handler: this.options.requestHandler,
      tls: this.connection.tls,
      proxy: this.connection.proxy,
      warm: this.connection.warm,
      rendezvousTimeoutMs: 20_000,
      sendInline: (json: string, body: Buffer | undefined) => this.session?.sendResponse(json, body),
      onError: (error: Error) => this.emitError(error),
      inlineRequests: this.inlineRequests,
    };
    if (command.method === undefined) {
      dispatchRendezvousRequest(ctx, command).catch((err: unknown) => this.emitError(toRelayError(err, 'listener', 'opening a request rendezvous')));
      return undefined;
    }
    return dispatchInlineRequest(ctx, command);
  }

  private emitError(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }
}

function describeEnd(ended: ControlSessionEnd): string {
  return `control channel closed (${ended.code}${ended.reason ? ` ${ended.reason}` : ''}${ended.error ? `: ${ended.error.message}` : ''})`;
}

/** 401/403 that no retry fixes; a full hybrid connection (403 QuotaExceeded) may have room later. */
function isAuthorizationFailure(error: Error): boolean {
  return error instanceof AuthorizationFailedError && !/QuotaExceeded/i.test(error.statusDescription);
}
