import { subscribe } from 'node:diagnostics_channel';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { TOKEN_FETCH_CHANNEL, type TokenFetch } from '../../client/token-fetch.js';
import type { ConnectionLifecycle } from '../../forwarding/lifecycle/connection-lifecycle.js';
import type { ConnectionEnd } from '../../forwarding/lifecycle/connection-fields.js';
import type { ConnectionOutcome, TrackedConnection } from '../../forwarding/lifecycle/tracked-connection.js';
import { idlePreconnected, PRECONNECT_CHANNEL, type PreconnectTake } from '../../websocket/preconnect-census.js';
import { BoundedLabel } from './bounded-label.js';
import { Totals } from './registry.js';

/** aztunnel's buckets, so its dashboards read ours unchanged. */
const CONNECTION_DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600];
const DIAL_DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const TOKEN_FETCH_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60];
/**
 * Relay hosts named in the pre-connected socket series before `__other__`: a pool keeps at most 8
 * hosts, and a process has a pool per relay client or listener.
 */
const MAX_RELAY_HOSTS = 32;

export interface EndMetricsOptions {
  /** Distinct `target` label values before `__other__` (aztunnel's --metrics-max-targets, default 500). */
  maxTargets?: number;
}

/** A target pool member, as the metrics see it. */
export interface PoolMemberView {
  label: string;
  up: boolean;
}

/**
 * The metrics of a bridge, relay-listener or relay-sender process (docs/operations.md, "Metrics"):
 * aztunnel's series with its names, labels and buckets, and hybridge's own. Everything is read from
 * the connection lifecycle: counts and histograms as connections end, byte totals and active
 * connections at scrape time from the connections' own counters (no work per chunk).
 */
export class EndMetrics {
  private readonly targets: BoundedLabel;
  private readonly aztunnelBytes = new Totals<'role' | 'target' | 'direction'>();
  private readonly bytes = new Totals<'role' | 'forwarder' | 'direction'>();
  private readonly dialCodes = new WeakMap<TrackedConnection, string>();
  private readonly channels = new Map<string, { online: boolean; seen: boolean }>();
  private readonly prewarmPools = new Map<string, () => number>();
  private readonly targetPools = new Map<string, () => readonly PoolMemberView[]>();
  private readonly aztunnelConnections: Counter<'role' | 'target' | 'status'>;
  private readonly aztunnelErrors: Counter<'role' | 'reason'>;
  private readonly aztunnelDuration: Histogram<'role' | 'target'>;
  private readonly aztunnelDial: Histogram<'role'>;
  private readonly connections: Counter<'role' | 'forwarder' | 'result'>;
  private readonly dialErrors: Counter<'role' | 'code'>;
  private readonly setup: Histogram<'role'>;
  private readonly reconnects: Counter<'hyco'>;

  constructor(
    registry: Registry,
    private readonly lifecycle: ConnectionLifecycle,
    options: EndMetricsOptions = {},
  ) {
    this.targets = new BoundedLabel(options.maxTargets ?? 500);
    const registers = [registry];
    // collect() runs with the metric as `this`; these reach back to the connections.
    const connections = () => this.lifecycle.connections();
    const targetOf = (c: TrackedConnection) => this.targetOf(c);
    const aztunnelBytes = () => this.aztunnelBytes.withLive(this.liveAztunnelBytes());
    const bytes = () => this.bytes.withLive(this.liveBytes());
    const channels = () => this.channels;
    const prewarmPools = () => this.prewarmPools;
    const targetPools = () => this.targetPools;
    this.aztunnelConnections = new Counter({ name: 'aztunnel_connections_total', help: 'Connections that completed set-up and carried bytes, by how they ended.', labelNames: ['role', 'target', 'status'], registers });
    this.aztunnelErrors = new Counter({ name: 'aztunnel_connection_errors_total', help: 'Connections that failed before carrying bytes, by reason.', labelNames: ['role', 'reason'], registers });
    new Counter({
      name: 'aztunnel_bytes_total',
      help: 'Bytes carried through the relay (to_relay: from the local side into the relay; from_relay: back).',
      labelNames: ['role', 'target', 'direction'],
      registers,
      collect() {
        this.reset();
        for (const { labels, value } of aztunnelBytes()) this.inc(labels, value);
      },
    });
    new Gauge({
      name: 'aztunnel_active_connections',
      help: 'Connections carrying bytes now.',
      labelNames: ['role', 'target'],
      registers,
      collect() {
        this.reset();
        for (const c of connections()) if (c.setupMs !== undefined && c.role !== 'relay') this.inc({ role: c.role, target: targetOf(c) });
      },
    });
    new Gauge({
      name: 'aztunnel_control_channel_connected',
      help: 'Whether the listener control channel is connected (1) or not (0); with several, 1 only when all are.',
      registers,
      collect() {
        const all = [...channels().values()];
        this.set(all.length > 0 && all.every((c) => c.online) ? 1 : 0);
      },
    });
    this.aztunnelDuration = new Histogram({ name: 'aztunnel_connection_duration_seconds', help: 'How long connections that carried bytes lasted.', labelNames: ['role', 'target'], buckets: CONNECTION_DURATION_BUCKETS, registers });
    this.aztunnelDial = new Histogram({ name: 'aztunnel_dial_duration_seconds', help: 'Outbound dials: the target (listener), the relay and the listener\'s answer (sender).', labelNames: ['role'], buckets: DIAL_DURATION_BUCKETS, registers });
    const tokenSeconds = new Histogram({ name: 'aztunnel_token_fetch_seconds', help: 'Relay token fetches (a cached token included), by provider (sas, entra) and result (ok, error).', labelNames: ['provider', 'result'], buckets: TOKEN_FETCH_BUCKETS, registers });
    const tokenFetches = new Counter({ name: 'aztunnel_token_fetch_total', help: 'Relay token fetches, by provider (sas, entra) and result (ok, error).', labelNames: ['provider', 'result'], registers });
    subscribe(TOKEN_FETCH_CHANNEL, (message) => {
      const { provider, result, seconds } = message as TokenFetch;
      tokenSeconds.observe({ provider, result }, seconds);
      tokenFetches.inc({ provider, result });
    });

    this.connections = new Counter({ name: 'hybridge_connections_total', help: 'Connections by forwarder and how they ended (result: the log\'s end field).', labelNames: ['role', 'forwarder', 'result'], registers });
    new Counter({
      name: 'hybridge_connection_bytes_total',
      help: 'Bytes carried, by forwarder and direction (to_listener, to_sender).',
      labelNames: ['role', 'forwarder', 'direction'],
      registers,
      collect() {
        this.reset();
        for (const { labels, value } of bytes()) this.inc(labels, value);
      },
    });
    new Gauge({
      name: 'hybridge_active_connections',
      help: 'Connections open now (set-up included), by forwarder.',
      labelNames: ['role', 'forwarder'],
      registers,
      collect() {
        this.reset();
        for (const c of connections()) if (c.role !== 'relay') this.inc({ role: c.role, forwarder: c.forwarder });
      },
    });
    this.dialErrors = new Counter({ name: 'hybridge_dial_errors_total', help: 'Failed outbound dials by code (connection_refused, timeout, dns_not_found, relay_failed, ...).', labelNames: ['role', 'code'], registers });
    this.setup = new Histogram({ name: 'hybridge_setup_seconds', help: 'Connection set-up: accept (or the local client) to the first byte that may flow.', labelNames: ['role'], buckets: DIAL_DURATION_BUCKETS, registers });
    new Gauge({
      name: 'hybridge_control_channel_online',
      help: 'Whether each relay listener\'s control channel is online (1) or not (0).',
      labelNames: ['hyco'],
      registers,
      collect() {
        this.reset();
        for (const [hyco, state] of channels()) this.set({ hyco }, state.online ? 1 : 0);
      },
    });
    this.reconnects = new Counter({ name: 'hybridge_control_channel_reconnects_total', help: 'Control channels that came back online after being lost.', labelNames: ['hyco'], registers });
    new Gauge({
      name: 'hybridge_prewarm_ready',
      help: 'Prewarmed relayed connections ready now, by forwarder.',
      labelNames: ['forwarder'],
      registers,
      collect() {
        this.reset();
        for (const [forwarder, ready] of prewarmPools()) this.set({ forwarder }, ready());
      },
    });
    const relayHosts = new BoundedLabel(MAX_RELAY_HOSTS);
    const hostsSeen = new Set<string>();
    const preconnectTakes = new Counter({
      name: 'hybridge_preconnect_handshakes_total',
      help: 'Relay WebSocket handshakes with pre-connected sockets on (--preconnect), by relay host and socket: preconnected (a socket connected ahead of time) or new (none was ready; a new connection).',
      labelNames: ['host', 'socket'],
      registers,
    });
    subscribe(PRECONNECT_CHANNEL, (message) => {
      const { host, preconnected } = message as PreconnectTake;
      const label = relayHosts.value(host);
      hostsSeen.add(label);
      preconnectTakes.inc({ host: label, socket: preconnected ? 'preconnected' : 'new' });
    });
    new Gauge({
      name: 'hybridge_preconnect_idle_sockets',
      help: 'Pre-connected sockets waiting for a handshake now, by relay host.',
      labelNames: ['host'],
      registers,
      collect() {
        this.reset();
        // A host once seen stays in the series at 0 rather than vanishing between uses.
        const byLabel = new Map<string, number>([...hostsSeen].map((host) => [host, 0]));
        for (const [host, idle] of idlePreconnected()) {
          const label = relayHosts.value(host);
          hostsSeen.add(label);
          byLabel.set(label, (byLabel.get(label) ?? 0) + idle);
        }
        for (const [host, idle] of byLabel) this.set({ host }, idle);
      },
    });
    new Gauge({
      name: 'hybridge_target_up',
      help: 'Target pool members that are up (1) or down (0), by forwarder and target.',
      labelNames: ['forwarder', 'target'],
      registers,
      collect() {
        this.reset();
        for (const [forwarder, members] of targetPools()) for (const m of members()) this.set({ forwarder, target: m.label }, m.up ? 1 : 0);
      },
    });

    lifecycle.observe({
      established: (c) => this.setup.observe({ role: c.role }, c.setupMs! / 1000),
      dialed: (c, ms, code) => {
        this.aztunnelDial.observe({ role: c.role }, ms / 1000);
        if (code !== undefined) {
          this.dialCodes.set(c, code);
          this.dialErrors.inc({ role: c.role, code });
        }
      },
      ended: (c, outcome) => this.ended(c, outcome),
    });
  }

  /** A relay listener's control channel went online or offline. */
  controlChannel(hyco: string, online: boolean): void {
    const state = this.channels.get(hyco);
    if (online && state?.seen && !state.online) this.reconnects.inc({ hyco });
    this.channels.set(hyco, { online, seen: (state?.seen ?? false) || online });
  }

  /** A prewarm pool whose ready count is read at scrape time. */
  prewarmPool(forwarder: string, ready: () => number): void {
    this.prewarmPools.set(forwarder, ready);
  }

  /** A target pool whose members' health is read at scrape time. */
  targetPool(forwarder: string, members: () => readonly PoolMemberView[]): void {
    this.targetPools.set(forwarder, members);
  }

  /** The pools of a bridge (or of relay-listener --bridge-target), as they are now. */
  observePools(pools: { prewarm: { forwarder: string; ready: () => number }[]; targets: { forwarder: string; members: () => readonly PoolMemberView[] }[] }): void {
    this.prewarmPools.clear();
    this.targetPools.clear();
    for (const { forwarder, ready } of pools.prewarm) this.prewarmPool(forwarder, ready);
    for (const { forwarder, members } of pools.targets) this.targetPool(forwarder, members);
  }

  /** Forgets the pools of a forwarder that was removed (reload). */
  forgetForwarder(forwarder: string): void {
    this.prewarmPools.delete(forwarder);
    this.targetPools.delete(forwarder);
  }

  private ended(c: TrackedConnection, outcome: ConnectionOutcome): void {
    if (c.role === 'relay') return;
    const forwarder = c.forwarder;
    this.connections.inc({ role: c.role, forwarder, result: outcome.end });
    this.bytes.add({ role: c.role, forwarder, direction: 'to_listener' }, c.bytesToListener);
    this.bytes.add({ role: c.role, forwarder, direction: 'to_sender' }, c.bytesToSender);
    const target = this.targetOf(c);
    if (c.setupMs !== undefined) {
      const ok = outcome.end === 'closed' || outcome.end === 'idle' || outcome.end === 'shutdown';
      this.aztunnelConnections.inc({ role: c.role, target, status: ok ? 'success' : 'error' });
      this.aztunnelDuration.observe({ role: c.role, target }, (Date.now() - c.startedAt) / 1000);
      this.aztunnelBytes.add({ role: c.role, target, direction: 'to_relay' }, c.toRelay);
      this.aztunnelBytes.add({ role: c.role, target, direction: 'from_relay' }, c.fromRelay);
    } else {
      const reason = aztunnelReason(outcome.end, this.dialCodes.get(c));
      if (reason) this.aztunnelErrors.inc({ role: c.role, reason });
    }
  }

  /** aztunnel's `target`: what the connection reached (its host:port); a bridge sender's port name. */
  private targetOf(c: TrackedConnection): string {
    return this.targets.value(c.fields.target ?? c.fields.port ?? '');
  }

  private *liveBytes(): Iterable<[Record<'role' | 'forwarder' | 'direction', string>, number]> {
    for (const c of this.lifecycle.connections()) {
      if (c.role === 'relay') continue;
      yield [{ role: c.role, forwarder: c.forwarder, direction: 'to_listener' }, c.bytesToListener];
      yield [{ role: c.role, forwarder: c.forwarder, direction: 'to_sender' }, c.bytesToSender];
    }
  }

  private *liveAztunnelBytes(): Iterable<[Record<'role' | 'target' | 'direction', string>, number]> {
    for (const c of this.lifecycle.connections()) {
      if (c.role === 'relay' || c.setupMs === undefined) continue;
      const target = this.targetOf(c);
      yield [{ role: c.role, target, direction: 'to_relay' }, c.toRelay];
      yield [{ role: c.role, target, direction: 'from_relay' }, c.fromRelay];
    }
  }
}

/** aztunnel's reason for a connection that failed before carrying bytes; undefined for ends that are no error. */
function aztunnelReason(end: ConnectionEnd, dialCode: string | undefined): string | undefined {
  switch (end) {
    case 'client-gone':
    case 'shutdown':
    case 'closed':
    case 'idle':
      return undefined;
    case 'not-allowed':
      return 'allowlist_rejected';
    case 'bad-envelope':
    case 'bad-preamble':
      return 'envelope_error';
    case 'relay-unavailable':
      return 'relay_failed';
    case 'target-unreachable':
      if (dialCode === 'timeout') return 'dial_timeout';
      if (dialCode === 'dns_not_found' || dialCode === 'dns_timeout') return dialCode;
      return 'dial_failed';
    default:
      return end.replace(/-/g, '_');
  }
}
