import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { ConnectionLifecycle } from '../forwarding/lifecycle/connection-lifecycle.js';
import { RelayEventBus } from '../observability/events/event-bus.js';
import { logSink } from '../observability/events/log-sink.js';
import { formatConnectionString } from '../protocol/connection-string.js';
import { parseRelayEndpoint, type RelayEndpoint } from '../protocol/relay-endpoint.js';
import { CloseCode } from '../protocol/websocket-frame.js';
import type { Logger } from '../util/logger.js';
import { secretMatcher } from '../util/same-secret.js';
import { WsConnection } from '../websocket/connection.js';
import { acceptUpgrade, checkUpgradeRequest, rejectUpgrade } from '../websocket/server-handshake.js';
import { boundUrl, listenerBaseUrl, toWebSocketBase } from './advertised-url.js';
import { clientAgent } from './client-agent.js';
import { announcedPorts } from './port-headers.js';
import type { AuthResult } from './authorizer.js';
import { ADDRESS_REFUSED, ClientAddresses } from './client-address.js';
import type { ConnectBroker, RelayedConnection } from './connect-broker.js';
import { ConnectionGate, type SocketRefusal } from './connection-gate.js';
import { createFrontDoor } from './front-door.js';
import { answerHealth, isHealthRequest } from './health.js';
import { FEATURES_HEADER, parseFeatures } from '../protocol/hybridge-extensions.js';
import { httpDeadlinesFor } from './http-deadlines.js';
import { sendRelayError } from './http-errors.js';
import type { HttpRelay } from './http-relay.js';
import { JwtAuthorizer, type JwtAuthOptions } from './jwt/jwt-authorizer.js';
import { limitWarnings, resolveRelayLimits, type RelayLimits } from './limits.js';
import { controlConnectionOptions, openListenerChannel } from './listener-admission.js';
import { LocalDirectory, type ListenerDirectory } from './listener-directory.js';
import type { ListenerRegistry } from './listener-registry.js';
import { handleManagementRequest, MANAGEMENT_PREFIX, type ManagementContext } from './management-api.js';
import { emptyNamespace, ROOT_RULE_NAME, type HybridConnection } from './namespace-model.js';
import { StoreError, type NamespaceStore, type StoreBackend } from './namespace-store.js';
import { HostedNamespace, type SharedRelayParts } from './namespaces/hosted-namespace.js';
import { namespaceAddressOf, namespaceEndpoint, type NamespaceAddress } from './namespaces/namespace-address.js';
import type { NamespaceHosting } from './namespaces/namespace-hosting.js';
import { DEFAULT_NAMESPACE } from './namespaces/namespace-name.js';
import { proxyProtocolFront, type ProxyProtocolListener } from './proxy-protocol-listener.js';
import { Refusals } from './refusals.js';
import { authorizeRelayedHttp } from './relayed-http-authorization.js';
import { relayHttpAddressUpgrade, type HttpAddressUpgradeContext } from './websocket-upgrade-relay.js';
import { answerRuntimeInformation, isRuntimeInformationRequest, type RuntimeInformationContext } from './runtime-information.js';
import { gestureToken, isHcPath, listenerIdFromTracking, parseHcGesture, parseRelayedTarget, rawSuffixAfter, type HcGesture, type RelayedTarget } from './request-url.js';
import { clearTimer } from '../util/clear-timer.js';

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
  /** Same as limits.maxListenersPerHyco (kept for existing callers). */
  maxListenersPerEntity?: number;
  /** The relay's limits (src/relay/limits.ts); unset ones take their defaults. */
  limits?: Partial<RelayLimits>;
  /** This node's id (cluster mode; 'local' otherwise). */
  nodeId?: string;
  /** Wraps this node's listener directory into a cluster-wide one (cluster mode). */
  directory?: (local: LocalDirectory) => ListenerDirectory;
  acceptTimeoutMs?: number;
  /** How long a chosen listener may stay silent before the sender is offered to another one too. */
  handoffMs?: number;
  /**
   * Route senders that name their port (Hybridge-Port) to listeners that serve it (default true).
   * Off, the relay picks listeners as Azure Relay does, port names unseen.
   */
  portRouting?: boolean;
  pingIntervalMs?: number;
  pingTimeoutMs?: number;
  /** Every connection must start with a PROXY protocol (v1 or v2) header naming the client (`--proxy-protocol`). */
  proxyProtocol?: boolean;
  /** Peers (CIDRs) whose Forwarded / X-Forwarded-For headers name the client (`--trusted-proxy`). */
  trustedProxies?: string[];
  /** Also accept JWT bearer tokens from these identity providers (docs/identity-tokens.md). */
  jwt?: JwtAuthOptions;
  /**
   * Requests the relay does not serve itself (`/$hybridge/metrics`, `/$hybridge/dashboard`, ...):
   * return true when handled. Runs before the management API and the relayed-HTTP routing.
   */
  extraRoutes?: (req: IncomingMessage, res: ServerResponse, url: string) => boolean;
  /** Hosted namespaces are addressed as `{namespace}.{namespaceDomain}` (besides the `/$ns/{namespace}` path prefix). */
  namespaceDomain?: string;
  /** Hosts namespaces besides the default one: opens them at start, serves the server-level admin API (namespaces/namespace-hosting.ts). */
  hostedNamespaces?: NamespaceHosting;
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
 * HTTP, and the management API, on one HTTP(S) port, within the limits of `options.limits`.
 */
export class RelayServer {
  readonly limits: RelayLimits;
  /** Verifies tokens from identity providers, when the relay trusts any (default namespace only). */
  readonly jwt: JwtAuthorizer | undefined;
  /** This node's control channels, of every namespace. */
  readonly local: LocalDirectory;
  /** Where listeners of every namespace are: this node's, or the whole cluster's. */
  private readonly sharedDirectory: ListenerDirectory;
  /** The namespace every single-namespace set-up uses: its URLs, keys and data directory are those of a relay without hosted namespaces. */
  readonly defaultNamespace: HostedNamespace;
  /** The namespaces this relay serves, by name ('' is the default one). */
  readonly namespaces = new Map<string, HostedNamespace>();
  /** Relayed connections and HTTP requests: tracked, counted and drained here. */
  readonly lifecycle: ConnectionLifecycle;
  /** Lifecycle steps, management operations and key changes (docs/operations.md, "Events"). */
  readonly events: RelayEventBus;
  private readonly server: http.Server;
  /** The listening socket: the HTTP(S) server itself, or the PROXY protocol reader in front of it. */
  private readonly listener: net.Server;
  private readonly proxyProtocol: ProxyProtocolListener | undefined;
  /** Whom each connection and request is from (PROXY protocol, trusted proxies). */
  readonly clients: ClientAddresses;
  private readonly gate: ConnectionGate;
  private readonly refusals: Refusals;
  /** Sockets closed before a byte was read (socket cap, per-address cap) or before they authenticated. */
  socketRefusals(): Readonly<Record<SocketRefusal, number>> {
    return this.gate.refusals;
  }
  private readonly log: Logger;
  private endpoint!: RelayEndpoint;
  private draining = false;
  /** Set once the namespace is open; until then every request and upgrade gets 503. */
  private serving = false;
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly sockets = new Set<Socket>();
  /** How each relayed connection's tracked connection ends. */
  private readonly relayedEnds = new WeakMap<RelayedConnection, () => void>();
  private readonly sharedParts: SharedRelayParts;

  constructor(private readonly options: RelayServerOptions) {
    this.log = options.log;
    this.limits = resolveRelayLimits({ maxListenersPerHyco: options.maxListenersPerEntity, ...options.limits });
    const limits = this.limits;
    this.clients = new ClientAddresses(options.trustedProxies);
    this.lifecycle = new ConnectionLifecycle(options.log);
    this.events = new RelayEventBus(options.nodeId ?? 'local', (err) => this.log.error({ reason: err.message }, 'an event sink failed; it gets no more events'));
    this.events.subscribe(logSink(this.log));
    this.refusals = new Refusals(this.log, this.clients, this.events);
    this.gate = new ConnectionGate(limits, this.refusals.lines, this.clients);
    this.jwt = options.jwt ? new JwtAuthorizer(options.jwt, this.log) : undefined;
    this.local = new LocalDirectory(options.nodeId ?? 'local', limits.maxListenersPerHyco);
    this.sharedDirectory = options.directory?.(this.local) ?? this.local;
    this.sharedParts = {
      log: this.log,
      lines: this.refusals.lines,
      events: this.events,
      directory: this.sharedDirectory,
      limits,
      jwt: this.jwt,
      namespaceDomain: options.namespaceDomain?.toLowerCase(),
      acceptTimeoutMs: options.acceptTimeoutMs ?? 30_000,
      handoffMs: options.handoffMs,
      portRouting: options.portRouting ?? true,
      pingIntervalMs: options.pingIntervalMs ?? 30_000,
      pingTimeoutMs: options.pingTimeoutMs ?? 60_000,
      publicBaseUrl: options.publicUrl ? toWebSocketBase(options.publicUrl) : undefined,
      refuse: (req, socket, status, reason, context) => this.refusals.upgrade(req, socket, status, reason, context),
      refuseRequest: (req, res, status, code, message) => this.refusals.http(req, res, status, code, message, { what: 'http request' }),
      onAuthenticated: (socket) => this.gate.authenticated(socket),
      clientAddressOf: (req) => this.clients.clientAddressOf(req),
      onRelayed: (c, ns) => this.trackRelayed(c, ns),
      onFinished: (c) => this.relayedEnds.get(c)?.(),
    };
    this.defaultNamespace = new HostedNamespace(DEFAULT_NAMESPACE, options.backend, this.sharedParts);
    this.namespaces.set(DEFAULT_NAMESPACE, this.defaultNamespace);
    this.server = createFrontDoor({
      tls: options.tls,
      limits,
      gate: this.gate,
      onRequest: (req, res) => this.onRequest(req, res),
      onUpgrade: (req, socket, head) => this.onUpgrade(req, socket, head),
    });
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    this.proxyProtocol = options.proxyProtocol ? proxyProtocolFront(this.server, this.clients, limits, this.refusals.lines) : undefined;
    this.listener = this.proxyProtocol?.server ?? this.server;
    this.store.on('restored', () => this.log.warn('the namespace document was missing from the cluster store (Redis restarted empty?); wrote back this node\'s copy'));
  }

  /**
   * Binds first, then opens the namespace: a port that is taken (or any other bind failure) leaves
   * no lock and no new namespace behind. Requests arriving in between get 503.
   */
  async start(): Promise<RelayServerStarted> {
    this.listener.listen(this.options.port, this.options.host);
    await once(this.listener, 'listening');
    let created: boolean;
    try {
      await this.jwt?.start();
      created = await this.store.open(() => emptyNamespace(this.options.rootKey));
      for (const name of this.options.hybridConnections ?? []) {
        if (await this.store.ensureHybridConnection(name)) this.log.info({ hyco: name }, 'hybrid connection created');
      }
      await this.options.hostedNamespaces?.open(this);
    } catch (err) {
      await this.options.hostedNamespaces?.close().catch(() => undefined);
      this.proxyProtocol?.server.close();
      this.jwt?.close();
      this.server.close();
      throw err;
    }
    if (!created && this.options.rootKey !== undefined && !this.rootKeyMatches(this.options.rootKey)) {
      this.log.warn(`--root-key was ignored: the namespace already exists and its ${ROOT_RULE_NAME} rule has other keys (another node created it first, or its keys were renewed)`);
    }
    for (const warning of limitWarnings(this.limits)) this.log.warn(warning);
    const address = this.listener.address() as AddressInfo;
    const secure = this.options.tls !== undefined;
    const url = this.options.publicUrl ?? boundUrl(this.options.host, address.port, secure);
    this.endpoint = parseRelayEndpoint(url);
    const pingIntervalMs = this.options.pingIntervalMs ?? 30_000;
    this.sweepTimer = setInterval(() => {
      for (const ns of this.namespaces.values()) ns.broker.sweepIdle(pingIntervalMs);
    }, pingIntervalMs);
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

  /** Opens a hosted namespace's document (it must exist) and serves the namespace from then on. */
  async hostNamespace(name: string, backend: StoreBackend): Promise<HostedNamespace> {
    const ns = new HostedNamespace(name, backend, this.sharedParts);
    await ns.store.open(() => {
      throw new StoreError(`namespace "${name}" has no document`, 404);
    });
    this.namespaces.set(name, ns);
    return ns;
  }

  /** Stops serving a namespace: its connections are cut (close 1001 with `reason`); returns how many. */
  unhostNamespace(name: string, reason: string): number {
    const ns = this.namespaces.get(name);
    if (!ns || ns.isDefault) return 0;
    this.namespaces.delete(name);
    return ns.cut(reason);
  }

  /** The default namespace's entities and rules. */
  get store(): NamespaceStore {
    return this.defaultNamespace.store;
  }

  /** The default namespace's view of the listener directory (its listeners only). */
  get directory(): ListenerDirectory {
    return this.defaultNamespace.directory;
  }

  get broker(): ConnectBroker {
    return this.defaultNamespace.broker;
  }

  get http(): HttpRelay {
    return this.defaultNamespace.http;
  }

  get port(): number {
    return (this.listener.address() as AddressInfo).port;
  }

  get registry(): ListenerRegistry {
    return this.local.registry;
  }

  get relayedConnections(): ReadonlySet<RelayedConnection> {
    return this.broker.relayed;
  }

  /** Connections of the default namespace on this node, as counted against limits.maxConnectionsPerNamespace. */
  get namespaceConnections(): number {
    return this.defaultNamespace.connections;
  }

  /**
   * Drains: refuses new listeners, senders and requests (503), leaves the cluster so other nodes
   * stop routing here, sends its listeners away to reconnect elsewhere (close 1001) once in-flight
   * HTTP requests are done, lets relayed connections run for up to `graceMs`, then closes everything.
   */
  async stop(graceMs = 0): Promise<void> {
    this.draining = true;
    const deadline = Date.now() + graceMs;
    const namespaces = [...this.namespaces.values()];
    await this.sharedDirectory.close().catch(() => undefined);
    for (const ns of namespaces) ns.broker.abortAll(503, 'The relay is shutting down');
    await this.lifecycle.whenIdle(Math.min(graceMs, 5000), (c) => c.kind === 'http');
    for (const channel of this.sharedDirectory.localChannels()) channel.close(CloseCode.GoingAway, 'this relay node is shutting down; reconnect');
    await this.lifecycle.whenIdle(deadline - Date.now(), (c) => c.kind === 'stream');
    this.proxyProtocol?.server.close();
    this.proxyProtocol?.destroyWaiting();
    this.server.close();
    for (const ns of namespaces) {
      ns.http.abortAll('the relay is shutting down');
      for (const c of ns.broker.relayed) c.pair.shutdown(CloseCode.GoingAway, 'the relay is shutting down');
    }
    // The Close frames just queued get a moment to leave before the sockets are cut.
    await this.lifecycle.whenIdle(100, (c) => c.kind === 'stream');
    for (const socket of this.sockets) socket.destroy();
    clearTimer(this.sweepTimer);
    this.gate.close();
    this.refusals.close();
    this.jwt?.close();
    for (const ns of namespaces) await ns.store.close();
    await this.options.hostedNamespaces?.close();
  }

  /** The endpoint of a namespace in connection strings: `{ns}.{domain}` with --namespace-domain, else the relay's with the `/$ns/{ns}` path. */
  endpointOf(ns: HostedNamespace | string): RelayEndpoint {
    return namespaceEndpoint(this.endpoint, typeof ns === 'string' ? ns : ns.name, this.sharedParts.namespaceDomain);
  }

  private managementContext(req: IncomingMessage, ns: HostedNamespace): ManagementContext {
    return {
      store: ns.store,
      listenerCount: (entity) => ns.directory.count(entity),
      endpoint: this.endpointOf(ns),
      authorizeManage: (token, entity) => this.authorizeManage(token, entity, req.socket, ns),
      onAuthFailure: (answer) => this.refusals.quietly(req, answer),
      onOperation: (record) => ns.events.emit('ManagementOperation', { role: 'management', ...record }),
      clientAddress: this.clients.clientAddressOf(req).address,
    };
  }

  private runtimeInformationContext(req: IncomingMessage, ns: HostedNamespace): RuntimeInformationContext {
    return {
      entityAt: (path) => ns.store.getHybridConnection(path),
      listenerCount: (entity) => ns.directory.count(entity),
      authorize: (token, entity, right) => ns.authorizer.authorize({ token, entity, right }),
      host: this.endpointOf(ns).host,
      refuse: (status, reason, hyco, answer) => this.refusals.custom(req, status, reason, { what: 'runtime information request', fields: { hyco, namespace: ns.name || undefined } }, answer),
      onAuthenticated: () => this.gate.authenticated(req.socket),
    };
  }

  /**
   * Checks a Manage token for the namespace (entity undefined) or one hybrid connection; with the
   * request's socket, a good token also lets the socket past the socket gate's authentication deadline.
   */
  async authorizeManage(token: string | undefined, entity?: string, socket?: Socket, ns = this.defaultNamespace): Promise<AuthResult> {
    const result = await ns.authorizer.authorize({ token, entity, right: 'Manage' });
    if (result.ok && socket) this.gate.authenticated(socket);
    return result;
  }

  /** The client's address as the relay sees it (PROXY protocol and trusted proxies applied). */
  clientAddressOf(req: IncomingMessage): string {
    return this.clients.clientAddressOf(req).address;
  }

  /** The relay's failure throttle for a refusal answered elsewhere (the metrics endpoint, the dashboard's API): `answer` runs now or after the delay. */
  refuseQuietly(req: IncomingMessage, answer: () => void): void {
    this.refusals.quietly(req, answer);
  }

  /** The namespace a request names, when this relay serves it. */
  private namespaceOf(req: IncomingMessage): { ns: HostedNamespace | undefined; address: NamespaceAddress } {
    const address = namespaceAddressOf(req, this.sharedParts.namespaceDomain);
    const ns = this.namespaces.get(address.namespace);
    return { ns: ns?.live ? ns : undefined, address };
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    // Resolved once per request: PROXY protocol and trusted-proxy headers give the same answer each time.
    const client = this.clients.clientAddressOf(req).address;
    if (!this.gate.attribute(req.socket, client)) return;
    if (!this.serving) return this.refusals.http(req, res, 503, 'ServiceUnavailable', 'The relay is starting', { what: 'http request' });
    if ((req.url ?? '/').length > this.limits.maxRequestTargetBytes) {
      return this.refusals.http(req, res, 414, 'UriTooLong', `the request target is longer than ${this.limits.maxRequestTargetBytes} bytes`, { what: 'http request' });
    }
    const { ns, address } = this.namespaceOf(req);
    const url = address.url;
    if (!ns) return this.refusals.http(req, res, 404, 'NamespaceNotFound', `no namespace "${address.namespace.slice(0, 64)}" on this relay`, { what: 'http request' });
    // The IP rules come before any authentication work, and cover management calls too; health checks (load balancers) are exempt.
    const byAddress = ns.store.decideAddress(client);
    if (ns.isDefault && isHealthRequest(url)) {
      return void answerHealth(
        {
          draining: this.draining,
          mayShowDetails: byAddress.allowed,
          authorizeManage: (token) => ns.authorizer.authorize({ token, entity: undefined, right: 'Manage' }),
          details: () => ({ node: this.sharedDirectory.nodeId, listeners: ns.directory.localChannels().length, connections: ns.broker.relayed.size }),
          onBadToken: (answer) => this.refusals.quietly(req, answer),
        },
        req,
        res,
      );
    }
    if (ns.isDefault && this.options.hostedNamespaces?.handle(req, res, url)) return;
    if (!byAddress.allowed) return this.refusals.byAddress(req, byAddress, 'http request', () => sendRelayError(res, 403, 'Forbidden', ADDRESS_REFUSED, { Connection: 'close' }));
    if (ns.isDefault && this.options.extraRoutes?.(req, res, url)) return;
    if (url.startsWith(MANAGEMENT_PREFIX + '/')) {
      void handleManagementRequest(this.managementContext(req, ns), req, res, url.slice(MANAGEMENT_PREFIX.length).replace(/\?.*$/, ''));
      return;
    }
    const refuse = (status: number, code: string, message: string, hyco?: string) => this.refusals.http(req, res, status, code, message, { what: 'http request', fields: { hyco, namespace: ns.name || undefined } });
    if (isHcPath(url)) return refuse(400, 'BadRequest', 'WebSocket endpoints under /$hc/ need a WebSocket upgrade');
    if (req.method === 'CONNECT') return refuse(405, 'MethodNotAllowed', 'CONNECT is not relayed');
    if (this.draining) return refuse(503, 'ServiceUnavailable', 'The relay is shutting down');
    const target = parseRelayedTarget(url);
    if (!target) return refuse(400, 'BadRequest', 'malformed URL encoding in the request path');
    if (isRuntimeInformationRequest(req)) return void answerRuntimeInformation(this.runtimeInformationContext(req, ns), req, res, target.path.replace(/\/+$/, '')).catch(() => res.destroy());
    const match = ns.store.matchPath(target.path);
    if (!match) return refuse(404, 'EndpointNotFound', `Endpoint does not exist: no hybrid connection matches "/${firstSegment(target.path)}"`);
    void this.relayRequest(req, res, ns, match.entity, target, refuse).catch(() => refuse(503, 'ServiceUnavailable', 'The relay could not check the token now'));
  }

  private async relayRequest(req: IncomingMessage, res: ServerResponse, ns: HostedNamespace, entity: HybridConnection, target: RelayedTarget, refuse: (status: number, code: string, message: string, hyco?: string) => void): Promise<void> {
    const auth = await authorizeRelayedHttp(ns.authorizer, req, entity, target);
    if (!auth.ok) return refuse(auth.status, auth.status === 401 ? 'TokenMissingOrInvalid' : 'Forbidden', auth.reason, entity.name);
    const { authorizationConsumed } = auth;
    if (req.destroyed || !ns.live) return;
    this.gate.authenticated(req.socket);
    const limits = ns.limits;
    const full = ns.fullReason(limits);
    if (full) return refuse(503, 'QuotaExceeded', full, entity.name);
    this.trackHttp(req, res, ns, entity.name);
    ns.http.handle({
      req,
      res,
      entity: entity.name,
      requestTarget: target.requestTarget,
      authorizationConsumed,
      viaHost: this.endpointOf(ns).host,
      deadlines: httpDeadlinesFor(entity, limits),
    });
  }

  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    this.sockets.add(socket);
    socket.on('error', () => socket.destroy());
    const client = this.clients.clientAddressOf(req).address;
    if (!this.gate.attribute(socket, client)) return;
    if (!this.serving) return this.refuse(req, socket, 503, 'The relay is starting', 'handshake', '');
    if ((req.url ?? '/').length > this.limits.maxRequestTargetBytes) return this.refuse(req, socket, 414, `the request target is longer than ${this.limits.maxRequestTargetBytes} bytes`, 'handshake', '');
    const { ns, address } = this.namespaceOf(req);
    if (!ns) return this.refuse(req, socket, 404, `NamespaceNotFound: no namespace "${address.namespace.slice(0, 64)}" on this relay`, 'handshake', '');
    const byAddress = ns.store.decideAddress(client);
    if (!byAddress.allowed) return this.refusals.byAddress(req, byAddress, 'handshake', () => rejectUpgrade(socket, 403, ADDRESS_REFUSED));
    const url = address.url;
    if (!isHcPath(url)) return this.onHttpAddressUpgrade(req, socket, head, url, ns);
    const gesture = parseHcGesture(url);
    if (!gesture) return this.refuse(req, socket, 400, 'malformed URL encoding in the request path', 'handshake', '');
    if (this.draining && gesture.action !== 'accept' && gesture.action !== 'request') return this.refuse(req, socket, 503, 'The relay is shutting down', 'handshake', gesture.path);
    switch (gesture.action) {
      case 'listen':
        return void this.onListen(req, socket, head, gesture, ns, address.basePath).catch((err: Error) => this.refuse(req, socket, 503, `The relay cannot register listeners now: ${err.message}`, 'listener', gesture.path));
      case 'connect':
        return void this.onConnect(req, socket, head, gesture, url, ns).catch(() => this.refuse(req, socket, 503, 'The relay could not check the token now', 'sender', gesture.path));
      case 'accept':
        return ns.broker.accept(req, socket, head, gesture);
      case 'request':
        return ns.http.rendezvous(req, socket, head, gesture);
      default:
        return this.refuse(req, socket, 400, 'sb-hc-action must be listen, connect, accept or request', 'handshake', gesture.path);
    }
  }

  /** A WebSocket upgrade on a hybrid connection's HTTP address (websocket-upgrade-relay.ts). */
  private onHttpAddressUpgrade(req: IncomingMessage, socket: Socket, head: Buffer, url: string, ns: HostedNamespace): void {
    if (this.draining) return this.refuse(req, socket, 503, 'The relay is shutting down', 'sender', '', undefined, ns);
    const context: HttpAddressUpgradeContext = {
      ns,
      refuse: (status, reason, hyco, headers) => this.refuse(req, socket, status, reason, 'sender', hyco, headers, ns),
      onAuthenticated: (s) => this.gate.authenticated(s),
    };
    void relayHttpAddressUpgrade(context, req, socket, head, url).catch(() => this.refuse(req, socket, 503, 'The relay could not check the token now', 'sender', '', undefined, ns));
  }

  private refuse(req: IncomingMessage, socket: Socket, status: number, reason: string, what: string, hyco: string, headers?: Record<string, string>, ns?: HostedNamespace): void {
    this.refusals.upgrade(req, socket, status, reason, { what, fields: { hyco: hyco || undefined, namespace: ns?.name || undefined } }, headers);
  }

  private async onListen(req: IncomingMessage, socket: Socket, head: Buffer, gesture: HcGesture, ns: HostedNamespace, basePath: string): Promise<void> {
    const refuse = (status: number, reason: string, hyco: string, headers?: Record<string, string>) => this.refuse(req, socket, status, reason, 'listener', hyco, headers, ns);
    const entity = ns.store.getHybridConnection(gesture.path);
    if (!entity) return refuse(404, `Endpoint does not exist: no hybrid connection "${gesture.path.slice(0, 300)}"`, '');
    const result = await ns.authorizer.authorize({ token: gestureToken(req, gesture, true).token, entity: entity.name, right: 'Listen' });
    if (!result.ok) return refuse(result.status, result.reason, entity.name);
    if (socket.destroyed || !ns.live) return;
    this.gate.authenticated(socket);
    const problem = checkUpgradeRequest(req);
    if (problem) return refuse(400, problem.reason, entity.name, problem.headers);
    const announced = announcedPorts(req);
    if (announced instanceof Error) return refuse(400, announced.message, entity.name);
    const limits = ns.limits;
    const full = ns.fullReason(limits);
    if (full) return refuse(503, full, entity.name);
    const max = limits.maxListenersPerHyco;
    const quota = `QuotaExceeded: "${entity.name}" already has ${max} listeners`;
    if ((await ns.directory.count(entity.name)) >= max) return refuse(403, quota, entity.name);
    if (socket.destroyed || !ns.live) return;
    acceptUpgrade(req, socket);
    socket.setNoDelay(true);
    const listenerId = listenerIdFromTracking(gesture.id) ?? randomUUID();
    const baseUrl = listenerBaseUrl(req, this.options.tls !== undefined || this.clients.tlsAtBalancer(req), this.endpoint) + basePath;
    const conn = new WsConnection(socket, { ...controlConnectionOptions(limits), maxMessageBytes: limits.maxControlBodyBytes, role: 'server', autoCloseReply: true });
    const channel = openListenerChannel(ns.wiring, { conn, head, entity: entity.name, listenerId, grant: result.grant, baseUrl, ports: announced });
    channel.features = parseFeatures(req.headers[FEATURES_HEADER.toLowerCase()]);
    channel.clientAddress = this.clients.clientAddressOf(req).address;
    if (!(await ns.directory.register(channel))) {
      // Another listener took the last slot while this one was being admitted.
      channel.close(CloseCode.PolicyViolation, quota);
      return;
    }
    ns.events.emit('NewListenerRegistered', { role: 'listener', hyco: entity.name, listenerId, remote: channel.clientAddress, agent: clientAgent(req), ports: announced?.join(',').slice(0, 500), listeners: ns.directory.localChannels(entity.name).length });
    ns.broker.channelOpened(channel);
  }

  private async onConnect(req: IncomingMessage, socket: Socket, head: Buffer, gesture: HcGesture, url: string, ns: HostedNamespace): Promise<void> {
    const refuse = (status: number, reason: string, hyco: string, headers?: Record<string, string>) => this.refuse(req, socket, status, reason, 'sender', hyco, headers, ns);
    const match = ns.store.matchPath(gesture.path);
    if (!match) return refuse(404, `Endpoint does not exist: no hybrid connection matches "${gesture.path.slice(0, 300)}"`, '');
    const entity = match.entity;
    // An anonymous sender's Authorization header is its own business, passed on to the listener.
    const { token, fromAuthorization } = gestureToken(req, gesture, entity.requiresClientAuthorization);
    const result = await ns.authorizer.authorize({ token, entity: entity.name, right: 'Send', anonymousAllowed: !entity.requiresClientAuthorization });
    if (!result.ok) return refuse(result.status, result.reason, entity.name);
    if (socket.destroyed || !ns.live) return;
    this.gate.authenticated(socket);
    const problem = checkUpgradeRequest(req);
    if (problem) return refuse(400, problem.reason, entity.name, problem.headers);
    const limits = ns.limits;
    const full = ns.fullReason(limits);
    if (full) return refuse(503, full, entity.name);
    const rawPathAfterHc = url.replace(/^\/(\$|%24)hc\//i, '');
    ns.broker.connect({
      req,
      socket,
      head,
      gesture,
      entity: entity.name,
      rawSuffix: rawSuffixAfter(rawPathAfterHc, entity.name.split('/').length),
      grant: result.grant,
      authorizationConsumed: fromAuthorization,
    });
  }

  /**
   * A sender and a listener were paired: the connection joins the lifecycle (its bytes are the
   * frames the relay copies) and ends there with one line, `event=SenderConnectionClosed`.
   */
  private trackRelayed(c: RelayedConnection, ns: HostedNamespace): void {
    const pair = c.pair;
    let cut = false;
    const connection = this.lifecycle.open({
      role: 'relay',
      fields: { ...namespaceField(ns), hyco: c.entity, trackingId: c.trackingId, listenerId: c.listenerId, remote: c.remote.address, ...(c.senderAgent ? { agent: c.senderAgent } : {}), ...(c.viaHttpAddress ? { via: 'http' } : {}) },
      bytes: () => ({ toListener: pair.bytesSenderToListener, toSender: pair.bytesListenerToSender }),
      abort: () => {
        cut = true;
        pair.shutdown(CloseCode.GoingAway, 'the relay is shutting down');
      },
    });
    // Set-up ran from the sender's upgrade to this pairing.
    connection.setupMs = Date.now() - c.requestedAt;
    ns.events.emit('SenderListenerConnectionEstablished', { role: 'sender', hyco: c.entity, trackingId: c.trackingId, listenerId: c.listenerId, setupMs: connection.setupMs });
    this.relayedEnds.set(c, () => {
      const extra = { senderClose: pair.senderToListener.closeCode, listenerClose: pair.listenerToSender.closeCode, event: 'SenderConnectionClosed' };
      connection.end({ end: cut || this.draining ? 'shutdown' : 'closed', extra });
      const { bytesToListener, bytesToSender } = connection;
      ns.events.emit('SenderConnectionClosed', { role: 'sender', hyco: c.entity, trackingId: c.trackingId, listenerId: c.listenerId, bytesToListener, bytesToSender, durationMs: Date.now() - connection.startedAt, logged: true });
    });
  }

  /** A relayed HTTP request joins the lifecycle until its response is over (its log line is the HTTP relay's). */
  private trackHttp(req: IncomingMessage, res: ServerResponse, ns: HostedNamespace, entity: string): void {
    const connection = this.lifecycle.open({ role: 'relay', kind: 'http', fields: { ...namespaceField(ns), hyco: entity, method: req.method }, abort: () => res.destroy() });
    res.once('close', () => {
      connection.end({ end: res.writableFinished ? 'closed' : 'client-gone', extra: { status: res.statusCode }, quiet: true });
      ns.events.emit('ListenerReturningHttpResponse', { role: 'http', hyco: entity, status: res.statusCode, durationMs: Date.now() - connection.startedAt, ...(res.writableFinished ? {} : { reason: 'the response did not complete' }) });
    });
  }
}

/** A hosted namespace's connections carry its name in their log lines and lifecycle fields; the default namespace's carry none. */
function namespaceField(ns: HostedNamespace): { namespace?: string } {
  return ns.isDefault ? {} : { namespace: ns.name };
}

/** The first segment of an unmatched path, for the 404's text (bounded: the path is the client's). */
function firstSegment(path: string): string {
  return (path.split('/', 1)[0] ?? '').slice(0, 64);
}
