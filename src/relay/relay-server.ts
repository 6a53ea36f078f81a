import { once } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { hostname } from 'node:os';
import { formatConnectionString } from '../protocol/connection-string.js';
import { formatHost, parseRelayEndpoint, type RelayEndpoint } from '../protocol/relay-endpoint.js';
import { CloseCode } from '../protocol/websocket-frame.js';
import type { Logger } from '../util/logger.js';
import { secretMatcher } from '../util/same-secret.js';
import { WsConnection } from '../websocket/connection.js';
import { acceptUpgrade, checkUpgradeRequest, rejectUpgrade } from '../websocket/server-handshake.js';
import { AuthorizationCache } from './authorization-cache.js';
import { grantRevoked, type Grant } from './authorizer.js';
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
import { sleep } from '../util/sleep.js';

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
  private readonly server: http.Server;
  private readonly throttle = new FailureThrottle();
  private readonly log: Logger;
  private endpoint!: RelayEndpoint;
  private draining = false;
  /** Set once the namespace is open; until then every request and upgrade gets 503. */
  private serving = false;
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly options: RelayServerOptions) {
    this.log = options.log;
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
      onFinished: (c) => this.logRelayed(c),
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

  /**
   * Binds first, then opens the namespace: a port that is taken (or any other bind failure) leaves
   * no lock and no new namespace behind. Requests arriving in between get 503.
   */
  async start(): Promise<RelayServerStarted> {
    this.server.listen(this.options.port, this.options.host);
    await once(this.server, 'listening');
    let created: boolean;
    try {
      created = await this.store.open(() => emptyNamespace(this.options.rootKey));
      for (const name of this.options.hybridConnections ?? []) {
        if (await this.store.ensureHybridConnection(name)) this.log.info({ hyco: name }, 'hybrid connection created');
      }
    } catch (err) {
      this.server.close();
      throw err;
    }
    if (!created && this.options.rootKey !== undefined && !this.rootKeyMatches(this.options.rootKey)) {
      this.log.warn(`--root-key was ignored: the namespace already exists and its ${ROOT_RULE_NAME} rule has other keys (another node created it first, or its keys were renewed)`);
    }
    const address = this.server.address() as AddressInfo;
    const secure = this.options.tls !== undefined;
    const advertisedHost = isWildcard(this.options.host) ? hostname() : this.options.host;
    const url = this.options.publicUrl ?? `${secure ? 'wss' : 'ws'}://${formatHost(advertisedHost)}:${address.port}`;
    this.endpoint = parseRelayEndpoint(url);
    this.sweepTimer = setInterval(() => this.sweepRelayed(), this.options.pingIntervalMs ?? 30_000);
    this.sweepTimer.unref();
    const result: RelayServerStarted = { url: url.replace(/\/+$/, ''), endpoint: this.endpoint };
    this.serving = true;
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
    const httpDeadline = Math.min(deadline, Date.now() + 5000);
    while (this.http.pendingCount > 0 && Date.now() < httpDeadline) await sleep(50);
    for (const channel of this.directory.localChannels()) channel.close(CloseCode.GoingAway, 'this relay node is shutting down; reconnect');
    while (this.broker.relayed.size > 0 && Date.now() < deadline) await sleep(50);
    this.server.close();
    this.http.abortAll('the relay is shutting down');
    for (const c of this.broker.relayed) c.pair.shutdown(CloseCode.GoingAway, 'the relay is shutting down');
    await sleep(100);
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
      authorizeManage: (token, entity) => this.authorizer.authorize({ token, entity, right: 'Manage' }),
    };
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    if (!this.serving) return sendRelayError(res, 503, 'ServiceUnavailable', 'The relay is starting');
    const url = req.url ?? '/';
    if (url === '/$hybridge/health' || url.startsWith('/$hybridge/health?')) {
      const body = JSON.stringify({ status: this.draining ? 'draining' : 'ok', node: this.directory.nodeId, listeners: this.directory.localChannels().length, connections: this.broker.relayed.size });
      res.writeHead(this.draining ? 503 : 200, { 'Content-Type': 'application/json' }).end(body);
      return;
    }
    if (url.startsWith(MANAGEMENT_PREFIX + '/')) {
      void handleManagementRequest(this.managementContext(), req, res, url.slice(MANAGEMENT_PREFIX.length).replace(/\?.*$/, ''));
      return;
    }
    if (isHcPath(url)) return sendRelayError(res, 400, 'BadRequest', 'WebSocket endpoints under /$hc/ need a WebSocket upgrade');
    if (req.method === 'CONNECT') return sendRelayError(res, 405, 'MethodNotAllowed', 'CONNECT is not relayed');
    if (this.draining) return sendRelayError(res, 503, 'ServiceUnavailable', 'The relay is shutting down');
    const target = parseRelayedTarget(url);
    if (!target) return sendRelayError(res, 400, 'BadRequest', 'malformed URL encoding in the request path');
    const match = this.store.matchPath(target.path);
    if (!match) return sendRelayError(res, 404, 'EndpointNotFound', `Endpoint does not exist: no hybrid connection matches "/${target.path.split('/')[0] ?? ''}"`);
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
        if (verdict.log) this.log.info({ hyco: entity.name, status: result.status, reason: result.reason, remote: req.socket.remoteAddress }, 'http request refused');
        this.throttle.hold(verdict.delayMs, () => sendRelayError(res, result.status, result.status === 401 ? 'TokenMissingOrInvalid' : 'Forbidden', result.reason));
        return;
      }
    }
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
    if (!this.serving) return rejectUpgrade(socket, 503, 'The relay is starting');
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

  private refuse(req: IncomingMessage, socket: Socket, status: number, reason: string, what: string, hyco: string): void {
    const verdict = this.throttle.note(req.socket.remoteAddress ?? '');
    if (verdict.log) this.log.info({ hyco, status, reason, remote: req.socket.remoteAddress, ...(verdict.suppressed ? { suppressedBefore: verdict.suppressed } : {}) }, `${what} refused`);
    this.throttle.hold(verdict.delayMs, () => rejectUpgrade(socket, status, reason));
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
          this.log.info({ hyco: ch.entity, listener: ch.listenerId, code, reason: reason || undefined, listeners: this.local.registry.count(ch.entity) }, 'listener offline');
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
    this.log.info({ hyco: entity.name, listener: listenerId, remote: socket.remoteAddress, listeners: this.local.registry.count(entity.name) }, 'listener online');
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
      this.log.info({ hyco: change.name }, 'hybrid connection deleted; its listeners and connections were closed');
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
      this.log.info({ rule: change.keyName, scope: change.scope ?? '(namespace)', closed }, 'authorization rule keys changed; connections using the old key were closed');
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

  private logRelayed(c: RelayedConnection): void {
    this.log.info(
      {
        hyco: c.entity,
        trackingId: c.trackingId,
        bytesToListener: c.pair.bytesSenderToListener,
        bytesToSender: c.pair.bytesListenerToSender,
        durationMs: Date.now() - c.pair.startedAt,
        senderClose: c.pair.senderToListener.closeCode,
        listenerClose: c.pair.listenerToSender.closeCode,
      },
      'connection closed',
    );
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
