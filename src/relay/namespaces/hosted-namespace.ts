import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { RelayEventBus } from '../../observability/events/event-bus.js';
import { CloseCode } from '../../protocol/websocket-frame.js';
import type { Logger } from '../../util/logger.js';
import { AuthorizationCache } from '../authorization-cache.js';
import type { ClientAddress } from '../client-address.js';
import { ConnectBroker, type RelayedConnection } from '../connect-broker.js';
import { HttpRelay } from '../http-relay.js';
import type { JwtAuthorizer } from '../jwt/jwt-authorizer.js';
import type { RelayLimits } from '../limits.js';
import { controlConnectionOptions, type ChannelWiring } from '../listener-admission.js';
import type { ListenerDirectory } from '../listener-directory.js';
import type { LogLimiter } from '../log-limiter.js';
import { enforceNamespaceChange } from '../namespace-enforcement.js';
import { NamespaceStore, type NamespaceChange, type StoreBackend } from '../namespace-store.js';
import type { RefusalContext } from '../refusals.js';
import { namespaceBasePath } from './namespace-address.js';
import { namespaceAudience } from './namespace-audience.js';
import { DEFAULT_NAMESPACE } from './namespace-name.js';
import { NamespacedDirectory } from './namespaced-directory.js';

/** What every namespace of a relay shares: the relay's log, refusals, directory, limits and event bus. */
export interface SharedRelayParts {
  log: Logger;
  lines: LogLimiter;
  events: RelayEventBus;
  directory: ListenerDirectory;
  limits: RelayLimits;
  /** Only the default namespace trusts identity providers (their role mappings name no namespace). */
  jwt?: JwtAuthorizer;
  namespaceDomain?: string;
  acceptTimeoutMs: number;
  handoffMs?: number;
  portRouting: boolean;
  pingIntervalMs: number;
  pingTimeoutMs: number;
  /** ws[s]://host:port of --public-url, for the default namespace's rendezvous addresses. */
  publicBaseUrl?: string;
  refuse(req: IncomingMessage, socket: Socket, status: number, reason: string, context: RefusalContext): void;
  refuseRequest(req: IncomingMessage, res: ServerResponse, status: number, code: string, message: string): void;
  onAuthenticated(socket: Socket): void;
  clientAddressOf(req: IncomingMessage): ClientAddress;
  onRelayed(connection: RelayedConnection, namespace: HostedNamespace): void;
  onFinished(connection: RelayedConnection): void;
}

/**
 * One namespace the relay hosts: its entities and rules (its own store and document), its token
 * checks (audiences of other namespaces refused), its view of the shared listener directory, its
 * senders and relayed HTTP requests, its limits and its events. The relay resolves a request's
 * namespace first and hands the rest of the work to that namespace's parts.
 */
export class HostedNamespace {
  readonly store: NamespaceStore;
  readonly authorizer: AuthorizationCache;
  readonly directory: NamespacedDirectory;
  readonly broker: ConnectBroker;
  readonly http: HttpRelay;
  readonly events: RelayEventBus;
  readonly wiring: ChannelWiring;
  private deleted = false;

  constructor(
    readonly name: string,
    backend: StoreBackend,
    private readonly shared: SharedRelayParts,
  ) {
    const isDefault = name === DEFAULT_NAMESPACE;
    this.events = isDefault ? shared.events : shared.events.scoped({ namespace: name });
    this.store = new NamespaceStore(backend);
    this.authorizer = new AuthorizationCache(this.store, isDefault ? shared.jwt : undefined, namespaceAudience(name, shared.namespaceDomain));
    this.directory = new NamespacedDirectory(shared.directory, name);
    const limits = shared.limits;
    // Rendezvous addresses name this node (cluster mode): a hosted namespace's go by its path
    // prefix, which reaches it whatever host name the node has.
    const publicBaseUrl = isDefault || !shared.publicBaseUrl ? shared.publicBaseUrl : `${shared.publicBaseUrl}${namespaceBasePath(name)}`;
    this.broker = new ConnectBroker({
      directory: this.directory,
      log: shared.log,
      events: this.events,
      lines: shared.lines,
      refuse: shared.refuse,
      onAuthenticated: shared.onAuthenticated,
      clientAddressOf: shared.clientAddressOf,
      onRelayed: (c) => shared.onRelayed(c, this),
      onFinished: (c) => shared.onFinished(c),
      maxPendingPerHyco: limits.maxPendingSendersPerHyco,
      maxLegBufferedBytes: limits.maxLegBufferedBytes,
      acceptTimeoutMs: shared.acceptTimeoutMs,
      portRouting: shared.portRouting,
      handoffMs: shared.handoffMs,
      publicBaseUrl,
    });
    this.http = new HttpRelay({
      directory: this.directory,
      log: shared.log,
      inlineBodyLimit: 64 * 1024,
      inlineWaitMs: 1000,
      silenceMs: shared.handoffMs ?? 5000,
      publicBaseUrl,
      rendezvousConnection: controlConnectionOptions(limits),
      refuse: shared.refuse,
      refuseRequest: shared.refuseRequest,
      onAuthenticated: shared.onAuthenticated,
      clientAddressOf: shared.clientAddressOf,
    });
    this.wiring = {
      directory: this.directory,
      broker: this.broker,
      http: this.http,
      authorizer: this.authorizer,
      log: shared.log,
      lines: shared.lines,
      events: this.events,
      pingIntervalMs: shared.pingIntervalMs,
      pingTimeoutMs: shared.pingTimeoutMs,
    };
    this.store.on('change', (change: NamespaceChange) => enforceNamespaceChange({ store: this.store, directory: this.directory, relayed: this.broker.relayed, events: this.events }, change));
  }

  get isDefault(): boolean {
    return this.name === DEFAULT_NAMESPACE;
  }

  /** False once the namespace was deleted: its requests are refused as for a namespace that never was. */
  get live(): boolean {
    return !this.deleted;
  }

  /** The relay's limits with the namespace's own quotas (set when it was created) on top. */
  get limits(): RelayLimits {
    const own = this.store.document.limits;
    if (!own) return this.shared.limits;
    return {
      ...this.shared.limits,
      maxConnectionsPerNamespace: own.maxConnections ?? this.shared.limits.maxConnectionsPerNamespace,
      maxListenersPerHyco: own.maxListenersPerHyco ?? this.shared.limits.maxListenersPerHyco,
    };
  }

  /** Connections of the namespace on this node, as counted against its maxConnectionsPerNamespace. */
  get connections(): number {
    return this.directory.localCount + this.broker.pendingCount + this.broker.relayed.size + this.http.pendingCount;
  }

  /** Why one more connection is refused (503), or undefined while the namespace has room on this node. */
  fullReason(limits: RelayLimits = this.limits): string | undefined {
    if (this.connections < limits.maxConnectionsPerNamespace) return undefined;
    return `QuotaExceeded: the namespace has its maximum of ${limits.maxConnectionsPerNamespace} connections on this relay node`;
  }

  /**
   * The namespace was deleted (here or on another node): its listeners, waiting and relayed senders
   * and HTTP requests are cut at once, and no new one is let in.
   */
  cut(reason: string): number {
    this.deleted = true;
    let closed = 0;
    this.broker.abortAll(404, reason);
    this.http.abortAll(reason);
    for (const c of [...this.broker.relayed]) {
      c.pair.shutdown(CloseCode.GoingAway, reason);
      closed++;
    }
    for (const channel of this.directory.localChannels()) {
      channel.close(CloseCode.GoingAway, reason);
      closed++;
    }
    return closed;
  }
}
