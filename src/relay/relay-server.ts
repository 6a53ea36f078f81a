import { once } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { hostname } from 'node:os';
import { ConnectionLifecycle } from '../forwarding/lifecycle/connection-lifecycle.js';
import { RelayEventBus } from '../observability/events/event-bus.js';
import { logSink } from '../observability/events/log-sink.js';
import type { RelayEventName } from '../observability/events/relay-event.js';
import { formatConnectionString } from '../protocol/connection-string.js';
import { formatHost, parseRelayEndpoint, type RelayEndpoint } from '../protocol/relay-endpoint.js';
import { CloseCode } from '../protocol/websocket-frame.js';
import type { Logger } from '../util/logger.js';
import { secretMatcher } from '../util/same-secret.js';
import { WsConnection } from '../websocket/connection.js';
import { acceptUpgrade, checkUpgradeRequest, rejectUpgrade } from '../websocket/server-handshake.js';
import { AuthorizationCache } from './authorization-cache.js';
import { grantRevoked, type AuthResult, type Grant } from './authorizer.js';
import { ConnectBroker, type RelayedConnection } from './connect-broker.js';
import { FailureThrottle } from './failure-throttle.js';
import { sendRelayError } from './http-errors.js';
import { HttpRelay } from './http-relay.js';
import { ListenerChannel } from './listener-channel.js';
import { LocalDirectory, type ListenerDirectory } from './listener-directory.js';
import type { ListenerRegistry } from './listener-registry.js';
import { handleManagementRequest, MANAGEMENT_PREFIX, type ManagementContext } from './management-api.js';
import { emptyNamespace, ROOT_RULE_NAME } from './namespace-model.js';
import { NamespaceStore, type NamespaceChange, type StoreBackend } from './namespace-store.js';
import { gestureToken, isHcPath, listenerIdFromTracking, parseHcGesture, parseRelayedTarget, rawSuffixAfter, type HcGesture } from './request-url.js';

export interface RelayServerOptions {
  host: string;
  port: number;
  backend: StoreBackend;
  log: Logger;
  rootKey?: string;
  /** Hybrid connections that must exist once the server is up. */
  hybridConnections?: string[];
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** How clients reach this server (connection strings, rendezvous addresses). */
  publicUrl?: string;
  maxListenersPerEntity?: number;
  /** This node's id (cluster mode; 'local' otherwise). */
  nodeId?: string;
  /** Wraps this node's listener directory into a cluster-wide one (cluster mode). */
  directory?: (local: LocalDirectory) => ListenerDirectory;
  acceptTimeoutMs?: number;
  /** How long a chosen listener may stay silent before the sender is offered to another one too. */
  handoffMs?: number;
  responseTimeoutMs?: number;
  pingIntervalMs?: number;
  pingTimeoutMs?: number;
  /**
   * Requests the relay does not serve itself (`/$hybridge/metrics`, `/$hybridge/dashboard`, ...):
   * return true when handled. Runs before the relayed-HTTP routing.
   */
  extraRoutes?: (req: IncomingMessage, res: ServerResponse, url: string) => boolean;
}

export interface RelayServerStarted {
  /** Base URL clients use, e.g. ws://127.0.0.1:9350 */
  url: string;
  endpoint: RelayEndpoint;
  /** Set only when this start created the namespace: the root rule's connection string. */
  rootConnectionString?: string;
}

/**
 * A self-hosted Azure Relay Hybrid Connections namespace: listeners, senders, rendezvous, relayed
 * HTTP, and the management API, on one HTTP(S) port.
 */
export class RelayServer {
  readonly store: NamespaceStore;
  private readonly authorizer: AuthorizationCache;
  /** This node's control channels. */
  readonly local: LocalDirectory;
  /** Where listeners are: this node's, or the whole cluster's. */
  readonly directory: ListenerDirectory;
  readonly broker: ConnectBroker;
  readonly http: HttpRelay;
  /** Relayed connections and HTTP requests: tracked, counted and drained here. */
  readonly lifecycle: ConnectionLifecycle;
  /** Lifecycle steps, management operations and key changes (docs/operations.md, "Events"). */
  readonly events: RelayEventBus;
  private readonly server: http.Server;
  private readonly throttle = new FailureThrottle();
  private readonly log: Logger;
  private endpoint!: RelayEndpoint;
  private draining = false;
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly sockets = new Set<Socket>();
  /** How each relayed connection's tracked connection ends. */
  private readonly relayedEnds = new WeakMap<RelayedConnection, () => void>();

  constructor(private readonly options: RelayServerOptions) {
    this.log = options.log;
    this.lifecycle = new ConnectionLifecycle(options.log);
    this.events = new RelayEventBus(options.nodeId ?? 'local', (err) => this.log.error({ reason: err.message }, 'an event sink failed; it gets no more events'));
    this.events.subscribe(logSink(this.log));
    this.store = new NamespaceStore(options.backend);
    this.authorizer = new AuthorizationCache(this.store);
    this.local = new LocalDirectory(options.nodeId ?? 'local', options.maxListenersPerEntity ?? 25);
    this.directory = options.directory?.(this.local) ?? this.local;
    const publicBaseUrl = options.publicUrl ? toWebSocketBase(options.publicUrl) : undefined;
    this.broker = new ConnectBroker({
      directory: this.directory,
      log: this.log,
      acceptTimeoutMs: options.acceptTimeoutMs ?? 30_000,
      handoffMs: options.handoffMs,
      publicBaseUrl,
      events: this.events,
      onRelayed: (c) => this.trackRelayed(c),
      onFinished: (c) => this.relayedEnds.get(c)?.(),
    });
    this.http = new HttpRelay({
      directory: this.directory,
      log: this.log,
      responseTimeoutMs: options.responseTimeoutMs ?? 60_000,
      inlineBodyLimit: 64 * 1024,
      inlineWaitMs: 1000,
      publicBaseUrl,
    });
    this.server = options.tls ? https.createServer({ cert: options.tls.cert, key: options.tls.key }) : http.createServer();
    this.server.keepAliveTimeout = 30_000;
    this.server.headersTimeout = 30_000;
    this.server.requestTimeout = 0;
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    this.server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.onUpgrade(req, socket, head));
    this.server.on('request', (req: IncomingMessage, res: ServerResponse) => this.onRequest(req, res));
    this.server.on('clientError', (_err, socket: Socket) => {
      if (!socket.destroyed) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    });
    this.store.on('change', (change: NamespaceChange) => this.onNamespaceChange(change));
    this.store.on('restored', () => this.log.warn('the namespace document was missing from the cluster store (Redis restarted empty?); wrote back this node\'s copy'));
  }

  async start(): Promise<RelayServerStarted> {
    const created = await this.store.open(() => emptyNamespace(this.options.rootKey));
    if (!created && this.options.rootKey !== undefined && !this.rootKeyMatches(this.options.rootKey)) {
      this.log.warn(`--root-key was ignored: the namespace already exists and its ${ROOT_RULE_NAME} rule has other keys (another node created it first, or its keys were renewed)`);
    }
    for (const name of this.options.hybridConnections ?? []) {
      if (await this.store.ensureHybridConnection(name)) this.log.info({ hyco: name }, 'hybrid connection created');
    }
    this.server.listen(this.options.port, this.options.host);
    await once(this.server, 'listening');
    const address = this.server.address() as AddressInfo;
    const secure = this.options.tls !== undefined;
    const advertisedHost = isWildcard(this.options.host) ? hostname() : this.options.host;
    const url = this.options.publicUrl ?? `${secure ? 'wss' : 'ws'}://${formatHost(advertisedHost)}:${address.port}`;
    this.endpoint = parseRelayEndpoint(url);
    this.sweepTimer = setInterval(() => this.sweepRelayed(), this.options.pingIntervalMs ?? 30_000);
    this.sweepTimer.unref();
    const result: RelayServerStarted = { url: url.replace(/\/+$/, ''), endpoint: this.endpoint };
    if (created) {
      const root = this.store.namespaceRules().find((r) => r.keyName === ROOT_RULE_NAME);
      if (root) result.rootConnectionString = formatConnectionString({ endpoint: this.endpoint, sharedAccessKeyName: root.keyName, sharedAccessKey: root.primaryKey });
    }
    return result;
  }

  private rootKeyMatches(key: string): boolean {
    const root = this.store.namespaceRules().find((r) => r.keyName === ROOT_RULE_NAME);
    if (!root) return false;
    const isGivenKey = secretMatcher(key);
    const primary = isGivenKey(root.primaryKey);
    const secondary = isGivenKey(root.secondaryKey);
    return primary || secondary;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get registry(): ListenerRegistry {
    return this.local.registry;
  }

  get relayedConnections(): ReadonlySet<RelayedConnection> {
    return this.broker.relayed;
  }

  /**
   * Drains: refuses new listeners, senders and requests (503), leaves the cluster so other nodes
   * stop routing here, sends its listeners away to reconnect elsewhere (close 1001) once in-flight
   * HTTP requests are done, lets relayed connections run for up to `graceMs`, then closes everything.
   */
  async stop(graceMs = 0): Promise<void> {
    this.draining = true;
    const deadline = Date.now() + graceMs;
    await this.directory.close().catch(() => undefined);
    this.broker.abortAll(503, 'The relay is shutting down');
    await this.lifecycle.whenIdle(Math.min(graceMs, 5000), (c) => c.kind === 'http');
    for (const channel of this.directory.localChannels()) channel.close(CloseCode.GoingAway, 'this relay node is shutting down; reconnect');
    await this.lifecycle.whenIdle(deadline - Date.now(), (c) => c.kind === 'stream');
    this.server.close();
    this.http.abortAll('the relay is shutting down');
    for (const c of this.broker.relayed) c.pair.shutdown(CloseCode.GoingAway, 'the relay is shutting down');
    // The Close frames just queued get a moment to leave before the sockets are cut.
    await this.lifecycle.whenIdle(100, (c) => c.kind === 'stream');
    for (const socket of this.sockets) socket.destroy();
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.throttle.close();
    await this.store.close();
  }

  private managementContext(): ManagementContext {
    return {
      store: this.store,
      listenerCount: (entity) => this.directory.count(entity),
      endpoint: this.endpoint,
      authorizeManage: (token, entity) => this.authorizeManage(token, entity),
      onOperation: (record) => this.events.emit('ManagementOperation', { role: 'management', ...record }),
    };
  }

  /** Checks a Manage token for the namespace (entity undefined) or one hybrid connection. */
  authorizeManage(token: string | undefined, entity?: string): AuthResult {
    return this.authorizer.authorize({ token, entity, right: 'Manage' });
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    if (url === '/$hybridge/health' || url.startsWith('/$hybridge/health?')) {
      const body = JSON.stringify({ status: this.draining ? 'draining' : 'ok', node: this.directory.nodeId, listeners: this.directory.localChannels().length, connections: this.broker.relayed.size });
      res.writeHead(this.draining ? 503 : 200, { 'Content-Type': 'application/json' }).end(body);
      return;
    }
    if (this.options.extraRoutes?.(req, res, url)) return;
    if (url.startsWith(MANAGEMENT_PREFIX + '/')) {
      void handleManagementRequest(this.managementContext(), req, res, url.slice(MANAGEMENT_PREFIX.length).replace(/\?.*$/, ''));
      return;
    }
    if (isHcPath(url)) return sendRelayError(res, 400, 'BadRequest', 'WebSocket endpoints under /$hc/ need a WebSocket upgrade');
    if (req.method === 'CONNECT') return sendRelayError(res, 405, 'MethodNotAllowed', 'CONNECT is not relayed');
    if (this.draining) return this.refuseHttp(res, undefined, 503, 'ServiceUnavailable', 'The relay is shutting down');
    const target = parseRelayedTarget(url);
    if (!target) return this.refuseHttp(res, undefined, 400, 'BadRequest', 'malformed URL encoding in the request path');
    const match = this.store.matchPath(target.path);
    if (!match) return this.refuseHttp(res, target.path.split('/')[0], 404, 'EndpointNotFound', `Endpoint does not exist: no hybrid connection matches "/${target.path.split('/')[0] ?? ''}"`);
    const entity = match.entity;
    const sbHeader = headerValue(req, 'servicebusauthorization');
    const authHeader = headerValue(req, 'authorization');
    let authorizationConsumed = false;
    if (entity.requiresClientAuthorization) {
      const token = target.token ?? sbHeader ?? authHeader;
      authorizationConsumed = !target.token && !sbHeader && authHeader !== undefined;
      const result = this.authorizer.authorize({ token, entity: entity.name, right: 'Send' });
      if (!result.ok) {
        const verdict = this.throttle.note(req.socket.remoteAddress ?? '');
        this.emitRefusal('http', entity.name, result.status, result.reason, req.socket.remoteAddress, verdict);
        this.throttle.hold(verdict.delayMs, () => sendRelayError(res, result.status, result.status === 401 ? 'TokenMissingOrInvalid' : 'Forbidden', result.reason));
        return;
      }
    }
    this.trackHttp(req, res, entity.name);
    this.http.handle({
      req,
      res,
      entity: entity.name,
      requestTarget: target.requestTarget,
      authorizationConsumed,
      viaHost: this.endpoint.host,
    });
  }

  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    this.sockets.add(socket);
    socket.on('error', () => socket.destroy());
    const url = req.url ?? '/';
    if (!isHcPath(url)) return rejectUpgrade(socket, 404, 'WebSocket endpoints live under /$hc/{hybrid connection}');
    const gesture = parseHcGesture(url);
    if (!gesture) return rejectUpgrade(socket, 400, 'malformed URL encoding in the request path');
    if (this.draining && gesture.action !== 'accept' && gesture.action !== 'request') return rejectUpgrade(socket, 503, 'The relay is shutting down');
    switch (gesture.action) {
      case 'listen':
        return void this.onListen(req, socket, head, gesture).catch((err: Error) => this.refuse(req, socket, 503, `The relay cannot register listeners now: ${err.message}`, 'listener', gesture.path));
      case 'connect':
        return this.onConnect(req, socket, head, gesture, url);
      case 'accept':
        return this.broker.accept(req, socket, head, gesture);
      case 'request':
        return this.http.rendezvous(req, socket, head, gesture);
      default:
        return rejectUpgrade(socket, 400, 'sb-hc-action must be listen, connect, accept or request');
    }
  }

  private refuse(req: IncomingMessage, socket: Socket, status: number, reason: string, what: 'listener' | 'sender', hyco: string): void {
    const verdict = this.throttle.note(req.socket.remoteAddress ?? '');
    this.emitRefusal(what, hyco, status, reason, req.socket.remoteAddress, verdict);
    this.throttle.hold(verdict.delayMs, () => rejectUpgrade(socket, status, reason));
  }

  private refuseHttp(res: ServerResponse, hyco: string | undefined, status: number, code: string, reason: string): void {
    // Counted, not logged: whatever scans the relay's port would fill the log.
    this.events.emit('HttpRequestFailed', { role: 'http', hyco, status, reason, remote: res.req.socket.remoteAddress, quiet: true });
    sendRelayError(res, status, code, reason);
  }

  /** One event per refused client: a SAS failure by its kind, anything else by who was refused. */
  private emitRefusal(role: 'listener' | 'sender' | 'http', hyco: string, status: number, reason: string, remote: string | undefined, verdict: { log: boolean; delayMs: number; suppressed: number }): void {
    const byRole: Record<typeof role, RelayEventName> = { listener: 'ListenerRegistrationFailed', sender: 'SenderConnectionFailed', http: 'HttpRequestFailed' };
    const name: RelayEventName = status === 401 ? 'InvalidSasToken' : status === 403 && reason.startsWith('Unauthorized') ? 'AuthorizationFailed' : byRole[role];
    this.events.emit(name, {
      role,
      hyco,
      status,
      reason,
      remote,
      ...(verdict.suppressed ? { suppressedBefore: verdict.suppressed } : {}),
      ...(verdict.log ? {} : { quiet: true }),
      ...(verdict.delayMs > 0 ? { throttled: true } : {}),
    });
  }

  private async onListen(req: IncomingMessage, socket: Socket, head: Buffer, gesture: HcGesture): Promise<void> {
    const entity = this.store.getHybridConnection(gesture.path);
    if (!entity) return this.refuse(req, socket, 404, `Endpoint does not exist: no hybrid connection "${gesture.path}"`, 'listener', gesture.path);
    const result = this.authorizer.authorize({ token: gestureToken(req, gesture), entity: entity.name, right: 'Listen' });
    if (!result.ok) return this.refuse(req, socket, result.status, result.reason, 'listener', entity.name);
    const problem = checkUpgradeRequest(req);
    if (problem) return this.refuse(req, socket, 400, problem, 'listener', entity.name);
    const max = this.options.maxListenersPerEntity ?? 25;
    const quota = `QuotaExceeded: "${entity.name}" already has ${max} listeners`;
    if ((await this.directory.count(entity.name)) >= max) return this.refuse(req, socket, 403, quota, 'listener', entity.name);
    if (socket.destroyed) return;
    acceptUpgrade(req, socket);
    socket.setNoDelay(true);
    const conn = new WsConnection(socket, { role: 'server', autoCloseReply: true, maxFrameLength: 16 * 1024 * 1024 });
    const listenerId = listenerIdFromTracking(gesture.id) ?? cryptoRandomId();
    const channel = new ListenerChannel(
      conn,
      entity.name,
      listenerId,
      result.grant,
      `${this.options.tls ? 'wss' : 'ws'}://${safeHost(req.headers.host) ?? `${formatHost(this.endpoint.host)}:${this.endpoint.port}`}`,
      {
        findResponseSink: (ch, requestId) => this.http.responseSink(ch, requestId),
        reauthorize: (token) => {
          const renewed = this.authorizer.authorize({ token, entity: entity.name, right: 'Listen' });
          // The cluster registry keeps the grant too; other nodes revoke by it.
          if (renewed.ok) this.directory.refresh(channel, renewed.grant);
          return renewed;
        },
        onClosed: (ch, code, reason) => {
          this.directory.unregister(ch);
          this.broker.channelClosed(ch);
          this.http.channelClosed(ch);
          this.events.emit('ListenerUnregistered', { role: 'listener', hyco: ch.entity, listenerId: ch.listenerId, code, reason: reason || undefined, listeners: this.local.registry.count(ch.entity) });
        },
      },
      this.log,
      { pingIntervalMs: this.options.pingIntervalMs ?? 30_000, pingTimeoutMs: this.options.pingTimeoutMs ?? 60_000 },
      head,
    );
    if (!(await this.directory.register(channel))) {
      // Another listener took the last slot while this one was being admitted.
      channel.close(CloseCode.PolicyViolation, quota);
      return;
    }
    this.events.emit('NewListenerRegistered', { role: 'listener', hyco: entity.name, listenerId, remote: socket.remoteAddress, listeners: this.local.registry.count(entity.name) });
  }

  private onConnect(req: IncomingMessage, socket: Socket, head: Buffer, gesture: HcGesture, url: string): void {
    const match = this.store.matchPath(gesture.path);
    if (!match) return this.refuse(req, socket, 404, `Endpoint does not exist: no hybrid connection matches "${gesture.path}"`, 'sender', gesture.path);
    const entity = match.entity;
    const token = gestureToken(req, gesture);
    const result = this.authorizer.authorize({ token, entity: entity.name, right: 'Send', anonymousAllowed: !entity.requiresClientAuthorization });
    if (!result.ok) return this.refuse(req, socket, result.status, result.reason, 'sender', entity.name);
    const problem = checkUpgradeRequest(req);
    if (problem) return this.refuse(req, socket, 400, problem, 'sender', entity.name);
    const rawPathAfterHc = url.replace(/^\/(\$|%24)hc\//i, '');
    this.broker.connect({
      req,
      socket,
      head,
      gesture,
      entity: entity.name,
      rawSuffix: rawSuffixAfter(rawPathAfterHc, entity.name.split('/').length),
      grant: result.grant,
    });
  }

  private onNamespaceChange(change: NamespaceChange): void {
    if (change.kind === 'hycoDeleted') {
      for (const channel of this.directory.localChannels(change.name)) channel.close(CloseCode.GoingAway, 'hybrid connection deleted');
      for (const c of this.broker.relayed) if (c.entity.toLowerCase() === change.name.toLowerCase()) c.pair.shutdown(CloseCode.GoingAway, 'hybrid connection deleted');
      this.events.emit('HybridConnectionDeleted', { hyco: change.name });
      return;
    }
    if (change.kind === 'hycoUpdated') {
      // Turning client authorization on cuts off the anonymous senders it let in before.
      if (!this.store.getHybridConnection(change.name)?.requiresClientAuthorization) return;
      for (const c of this.broker.relayed) {
        if (c.entity.toLowerCase() === change.name.toLowerCase() && c.senderGrant.anonymous) c.pair.shutdown(CloseCode.PolicyViolation, 'client authorization is now required');
      }
      return;
    }
    if (change.kind === 'ruleKeysChanged' || change.kind === 'ruleRemoved') {
      const revoked = (grant: Grant) => grantRevoked(grant, change.scope, change.keyName, change.revokedKeys);
      let closed = 0;
      for (const channel of this.directory.localChannels()) {
        if (revoked(channel.grant)) {
          channel.close(CloseCode.PolicyViolation, 'authorization revoked');
          closed++;
        }
      }
      for (const c of this.broker.relayed) {
        if (revoked(c.senderGrant) || revoked(c.listenerGrant)) {
          c.pair.shutdown(CloseCode.PolicyViolation, 'authorization revoked');
          closed++;
        }
      }
      this.events.emit('AuthorizationRuleKeysChanged', { rule: change.keyName, scope: change.scope ?? '(namespace)', change: change.kind === 'ruleRemoved' ? 'removed' : 'renewed', closed });
    }
  }

  /** Pings idle relayed connections and drops those whose peers stopped answering. */
  private sweepRelayed(): void {
    const interval = this.options.pingIntervalMs ?? 30_000;
    const now = Date.now();
    for (const c of this.broker.relayed) {
      const idle = now - c.pair.lastActivityAt;
      if (idle > interval * 3) c.pair.destroy();
      else if (idle >= interval) c.pair.ping();
    }
  }

  /**
   * A sender and a listener were paired: the connection joins the lifecycle (its bytes are the
   * frames the relay copies) and ends there with one line, `event=SenderConnectionClosed`.
   */
  private trackRelayed(c: RelayedConnection): void {
    const pair = c.pair;
    let cut = false;
    const connection = this.lifecycle.open({
      role: 'relay',
      fields: { hyco: c.entity, trackingId: c.trackingId, listenerId: c.listenerId },
      bytes: () => ({ toListener: pair.bytesSenderToListener, toSender: pair.bytesListenerToSender }),
      abort: () => {
        cut = true;
        pair.shutdown(CloseCode.GoingAway, 'the relay is shutting down');
      },
    });
    // Set-up ran from the sender's upgrade to this pairing.
    connection.setupMs = Date.now() - c.requestedAt;
    this.events.emit('SenderListenerConnectionEstablished', { role: 'sender', hyco: c.entity, trackingId: c.trackingId, listenerId: c.listenerId, setupMs: connection.setupMs });
    this.relayedEnds.set(c, () => {
      const extra = { senderClose: pair.senderToListener.closeCode, listenerClose: pair.listenerToSender.closeCode, event: 'SenderConnectionClosed' };
      connection.end({ end: cut || this.draining ? 'shutdown' : 'closed', extra });
      const { bytesToListener, bytesToSender } = connection;
      this.events.emit('SenderConnectionClosed', { role: 'sender', hyco: c.entity, trackingId: c.trackingId, listenerId: c.listenerId, bytesToListener, bytesToSender, durationMs: Date.now() - connection.startedAt, logged: true });
    });
  }

  /** A relayed HTTP request joins the lifecycle until its response is over (its log line is the HTTP relay's). */
  private trackHttp(req: IncomingMessage, res: ServerResponse, entity: string): void {
    const connection = this.lifecycle.open({ role: 'relay', kind: 'http', fields: { hyco: entity, method: req.method }, abort: () => res.destroy() });
    res.once('close', () => {
      connection.end({ end: res.writableFinished ? 'closed' : 'client-gone', extra: { status: res.statusCode }, quiet: true });
      this.events.emit('ListenerReturningHttpResponse', { role: 'http', hyco: entity, status: res.statusCode, durationMs: Date.now() - connection.startedAt, ...(res.writableFinished ? {} : { reason: 'the response did not complete' }) });
    });
  }
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

/** A Host header we are willing to put into rendezvous addresses (host[:port], nothing else). */
function safeHost(host: string | undefined): string | undefined {
  return host && /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(host) ? host : undefined;
}

function toWebSocketBase(url: string): string {
  const endpoint = parseRelayEndpoint(url);
  return `${endpoint.secure ? 'wss' : 'ws'}://${formatHost(endpoint.host)}:${endpoint.port}`;
}


function cryptoRandomId(): string {
  return globalThis.crypto.randomUUID();
}
