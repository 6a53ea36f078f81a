import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ConnectionLifecycle } from '../../forwarding/lifecycle/connection-lifecycle.js';
import type { RelayEventBus } from '../events/event-bus.js';
import { reasonKind, type RelayEvent } from '../events/relay-event.js';
import { BoundedLabel } from './bounded-label.js';
import { Totals } from './registry.js';
import type { ConnectionFields } from '../../forwarding/lifecycle/connection-fields.js';
import { DEFAULT_NAMESPACE, directoryKey } from '../../relay/namespaces/namespace-name.js';

const SETUP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** What the relay metrics read at scrape time. */
export interface RelayMetricsSource {
  node: string;
  lifecycle: ConnectionLifecycle;
  events: RelayEventBus;
  /** The hybrid connection of each control channel on this node. */
  listenerEntities(): Iterable<string>;
  /** Cluster mode: live nodes and whether Redis answers. */
  membership?(): { nodes: string[]; redisUp: boolean };
  /** Sockets the relay's socket gate closed, by reason (max_sockets, unauthenticated_per_address, handshake_timeout). */
  socketRefusals?(): Readonly<Record<string, number>>;
}

export interface RelayMetricsOptions {
  /** Distinct `entity` label values before `__other__` (default 100). */
  maxEntities?: number;
}

type Result = 'success' | 'client_error' | 'server_error';

/**
 * The relay's metrics (docs/operations.md, "Relay metrics"), after Azure Relay's: listener and
 * sender connections by result, active connections and listeners, disconnects and bytes per hybrid
 * connection (label `entity`, capped), plus relayed HTTP requests by status, the set-up latency,
 * authentication failures, throttled and refused clients, and the cluster. Counters follow the
 * event bus; gauges and byte totals are read from the lifecycle at scrape time.
 */
export class RelayMetrics {
  private readonly entities: BoundedLabel;
  private readonly bytes = new Totals<'entity' | 'direction'>();
  private readonly listenerConnections: Counter<'entity' | 'result'>;
  private readonly senderConnections: Counter<'entity' | 'result'>;
  private readonly listenerDisconnects: Counter<'entity'>;
  private readonly senderDisconnects: Counter<'entity'>;
  private readonly httpRequests: Counter<'entity' | 'status'>;
  private readonly setup: Histogram;
  private readonly authFailures: Counter<'role' | 'reason'>;
  private readonly throttled: Counter<'role'>;
  private readonly refused: Counter<'role' | 'status'>;
  readonly webhookDeliveries: Counter<'result'>;
  readonly webhookDropped: Counter;

  constructor(
    registry: Registry,
    private readonly source: RelayMetricsSource,
    options: RelayMetricsOptions = {},
  ) {
    this.entities = new BoundedLabel(options.maxEntities ?? 100);
    const entity = (name: string | undefined) => this.entities.value((name ?? '').toLowerCase());
    const registers = [registry];
    // collect() runs with the metric as `this`; this reaches back to the relay.
    const bytes = () => this.bytes.withLive(this.liveBytes(entity));

    this.listenerConnections = new Counter({ name: 'hybridge_relay_listener_connections_total', help: 'Listener control channels by result (Azure: ListenerConnections-Success/ClientError/ServerError).', labelNames: ['entity', 'result'], registers });
    this.senderConnections = new Counter({ name: 'hybridge_relay_sender_connections_total', help: 'Sender connections by result (Azure: SenderConnections-Success/ClientError/ServerError).', labelNames: ['entity', 'result'], registers });
    this.listenerDisconnects = new Counter({ name: 'hybridge_relay_listener_disconnects_total', help: 'Listener control channels that closed (Azure: ListenerDisconnects).', labelNames: ['entity'], registers });
    this.senderDisconnects = new Counter({ name: 'hybridge_relay_sender_disconnects_total', help: 'Relayed connections that ended (Azure: SenderDisconnects).', labelNames: ['entity'], registers });
    new Gauge({
      name: 'hybridge_relay_active_connections',
      help: 'Relayed connections open on this node (Azure: ActiveConnections).',
      labelNames: ['entity'],
      registers,
      collect() {
        this.reset();
        for (const c of source.lifecycle.connections()) if (c.kind === 'stream') this.inc({ entity: entity(connectionEntity(c)) });
      },
    });
    new Gauge({
      name: 'hybridge_relay_active_listeners',
      help: 'Listener control channels connected to this node (Azure: ActiveListeners).',
      labelNames: ['entity'],
      registers,
      collect() {
        this.reset();
        for (const name of source.listenerEntities()) this.inc({ entity: entity(name) });
      },
    });
    new Counter({
      name: 'hybridge_relay_bytes_transferred_total',
      help: 'Payload bytes relayed, by direction (to_listener, to_sender) (Azure: BytesTransferred).',
      labelNames: ['entity', 'direction'],
      registers,
      collect() {
        this.reset();
        for (const { labels, value } of bytes()) this.inc(labels, value);
      },
    });
    this.httpRequests = new Counter({ name: 'hybridge_relay_http_requests_total', help: 'Relayed HTTP requests by response status.', labelNames: ['entity', 'status'], registers });
    this.setup = new Histogram({ name: 'hybridge_relay_setup_seconds', help: 'From a sender\'s upgrade to its pairing with a listener.', buckets: SETUP_BUCKETS, registers });
    this.authFailures = new Counter({ name: 'hybridge_relay_auth_failures_total', help: 'Refused tokens by kind (MissingToken, MalformedToken, ExpiredToken, InvalidSignature, InvalidAudience, Unauthorized, ...).', labelNames: ['role', 'reason'], registers });
    this.throttled = new Counter({ name: 'hybridge_relay_throttled_total', help: 'Refusals the failure throttle held back (a client failing in a burst).', labelNames: ['role'], registers });
    this.refused = new Counter({ name: 'hybridge_relay_refused_total', help: 'Refused clients by HTTP status (401/403 auth, 404 no such entity or listener, 403 quota, 429/503 limits, 504 accept timeout).', labelNames: ['role', 'status'], registers });
    this.webhookDeliveries = new Counter({ name: 'hybridge_relay_webhook_deliveries_total', help: 'Webhook POSTs by result (delivered, failed after retries).', labelNames: ['result'], registers });
    this.webhookDropped = new Counter({ name: 'hybridge_relay_webhook_dropped_total', help: 'Webhook events dropped because the queue was full (oldest first).', registers });
    new Gauge({
      name: 'hybridge_relay_node_info',
      help: 'This relay node (value 1).',
      labelNames: ['node'],
      registers,
      collect() {
        this.set({ node: source.node }, 1);
      },
    });
    if (source.socketRefusals) {
      new Counter({
        name: 'hybridge_relay_socket_refusals_total',
        help: 'Sockets closed by the relay before a request (max_sockets, unauthenticated_per_address) or before authenticating (handshake_timeout).',
        labelNames: ['reason'],
        registers,
        collect() {
          this.reset();
          for (const [reason, count] of Object.entries(source.socketRefusals!())) this.inc({ reason }, count);
        },
      });
    }
    if (source.membership) {
      new Gauge({ name: 'hybridge_relay_cluster_nodes', help: 'Live nodes in the cluster, as this node saw at its last heartbeat.', registers, collect() { this.set(source.membership!().nodes.length); } });
      new Gauge({ name: 'hybridge_relay_redis_up', help: 'Whether this node reaches Redis (1) or not (0).', registers, collect() { this.set(source.membership!().redisUp ? 1 : 0); } });
    }

    source.events.subscribe((event) => this.count(event, entity));
    source.lifecycle.observe({
      ended: (c) => {
        if (c.kind !== 'stream') return;
        this.bytes.add({ entity: entity(connectionEntity(c)), direction: 'to_listener' }, c.bytesToListener);
        this.bytes.add({ entity: entity(connectionEntity(c)), direction: 'to_sender' }, c.bytesToSender);
      },
    });
  }

  private count(event: RelayEvent, entity: (name: string | undefined) => string): void {
    const e = entity(event.hyco === undefined ? undefined : directoryKey(event.namespace ?? DEFAULT_NAMESPACE, event.hyco));
    const role = event.role ?? 'sender';
    const failed = (status: number | undefined) => {
      const result: Result = status !== undefined && status >= 500 ? 'server_error' : 'client_error';
      if (role === 'listener') this.listenerConnections.inc({ entity: e, result });
      else if (role === 'sender') this.senderConnections.inc({ entity: e, result });
      if (status !== undefined) this.refused.inc({ role, status: String(status) });
      if (event.throttled) this.throttled.inc({ role });
    };
    switch (event.event) {
      case 'NewListenerRegistered':
        return this.listenerConnections.inc({ entity: e, result: 'success' });
      case 'ListenerUnregistered':
        return this.listenerDisconnects.inc({ entity: e });
      case 'SenderListenerConnectionEstablished':
        this.senderConnections.inc({ entity: e, result: 'success' });
        if (typeof event.setupMs === 'number') this.setup.observe(event.setupMs / 1000);
        return;
      case 'SenderConnectionClosed':
        return this.senderDisconnects.inc({ entity: e });
      case 'ListenerReturningHttpResponse':
        return this.httpRequests.inc({ entity: e, status: String(event.status ?? 0) });
      case 'InvalidSasToken':
      case 'AuthorizationFailed':
        this.authFailures.inc({ role, reason: reasonKind(event.reason) });
        if (role === 'http') this.httpRequests.inc({ entity: e, status: String(event.status ?? 401) });
        return failed(event.status);
      case 'HttpRequestFailed':
        this.httpRequests.inc({ entity: e, status: String(event.status ?? 0) });
        return failed(event.status);
      case 'ListenerRegistrationFailed':
      case 'SenderConnectionFailed':
      case 'ListenerAcceptingConnectionTimeout':
      case 'ListenerRejectedConnection':
        return failed(event.status);
      default:
        return undefined;
    }
  }

  private *liveBytes(entity: (name: string | undefined) => string): Iterable<[Record<'entity' | 'direction', string>, number]> {
    for (const c of this.source.lifecycle.connections()) {
      if (c.kind !== 'stream') continue;
      yield [{ entity: entity(connectionEntity(c)), direction: 'to_listener' }, c.bytesToListener];
      yield [{ entity: entity(connectionEntity(c)), direction: 'to_sender' }, c.bytesToSender];
    }
  }
}

/** A relayed connection's entity label: `{namespace}:{hyco}` for a hosted namespace's, the plain name for the default namespace's. */
function connectionEntity(c: { hyco: string; fields: Readonly<ConnectionFields> }): string {
  return directoryKey(c.fields.namespace ?? DEFAULT_NAMESPACE, c.hyco);
}
