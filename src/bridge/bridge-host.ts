import { ConnectionLifecycle } from '../forwarding/lifecycle/connection-lifecycle.js';
import type { ProtocolHandlerFactory } from '../forwarding/listener-end.js';
import { ListenError } from '../forwarding/local-listen.js';
import type { ProxyPolicy } from '../proxy/proxy-policy.js';
import type { Logger } from '../util/logger.js';
import type { TlsClientOptions } from '../websocket/client-handshake.js';
import type { BridgeConfig } from './config/index.js';
import { ForwarderStartError, planForwarders, type ForwarderPlan, type PlanContext } from './forwarder-plans.js';
import type { LocalForwarder } from './local/local-forwarder.js';
import type { RemoteForwarder } from './remote/remote-forwarder.js';

export { ForwarderStartError };

export interface BridgeHostOptions {
  log: Logger;
  /** Extra trust for a TLS relay (--ca). */
  tls?: TlsClientOptions;
  /** --token-in-query: tokens travel as sb-hc-token instead of a header. */
  tokenInQuery?: boolean;
  /** --proxy, or the proxy environment variables (default: none). */
  proxy?: ProxyPolicy;
  /** --preconnect: sockets kept connected per relay host (client library default when not given). */
  preconnect?: number;
  /**
   * Serves aztunnel-style senders on -T relays (the CLI builds it from --allow with the tunnel's
   * handler); without it their envelopes are refused with a line that names --allow.
   */
  serveAztunnel?: ProtocolHandlerFactory;
  udpIdleMs?: number;
  /** Where the bridge's connections are tracked (one is made when not given). */
  lifecycle?: ConnectionLifecycle;
  /** Control-channel state changes of the relay listeners (metrics). */
  onControlChannel?(relayName: string, online: boolean): void;
  /**
   * A relay listener stopped for good after the start (its hybrid connection was deleted, or its
   * credentials are refused) and ExitOnForwardFailure is on: the bridge cannot do its job any more.
   */
  onFatal?: (message: string) => void;
}

type Running = { kind: 'remote'; plan: ForwarderPlan; forwarder: RemoteForwarder } | { kind: 'local'; plan: ForwarderPlan; forwarder: LocalForwarder };

/** What a reload changed. */
export interface ReloadSummary {
  added: number;
  removed: number;
  kept: number;
}

/**
 * Runs one bridge configuration (azbridge's Host): the remote forwarders first (one relay listener per
 * relay name), then the local forwarders. reload() moves to a new configuration without touching live
 * connections; stop() drains: no new connections, live ones get the grace period, then whatever is
 * left is cut.
 */
export class BridgeHost {
  readonly lifecycle: ConnectionLifecycle;
  private running: Running[] = [];
  private readonly log: Logger;
  private readonly context: PlanContext;

  constructor(
    private config: BridgeConfig,
    options: BridgeHostOptions,
  ) {
    this.log = options.log;
    this.lifecycle = options.lifecycle ?? new ConnectionLifecycle(options.log);
    this.context = {
      ...options,
      lifecycle: this.lifecycle,
      onRemoteStopped: (relayName, source, error) => {
        const message = `relay ${relayName} (${source}): ${error.message}`;
        if (this.config.exitOnForwardFailure) options.onFatal?.(message);
        else this.log.warn({ hyco: relayName }, 'ExitOnForwardFailure is off: the bridge goes on without this relay listener');
      },
    };
  }

  /** Starts everything; throws ForwarderStartError when a forwarder fails and ExitOnForwardFailure is on. */
  async start(): Promise<void> {
    const mustStart = this.config.exitOnForwardFailure;
    let failures = 0;
    for (const plan of orderForStart(planForwarders(this.config, this.context))) {
      try {
        this.running.push(await this.startOne(plan, mustStart));
      } catch (err) {
        failures++;
        const message = plan.kind === 'remote' ? `relay ${plan.relayName} (${plan.source}): ${(err as Error).message}` : `${plan.source}: ${(err as Error).message}`;
        if (mustStart) {
          await this.stopForwarders();
          throw new ForwarderStartError(message, err instanceof ListenError && err.configProblem);
        }
        if (plan.kind === 'local') this.log.error({ hyco: plan.relayName, reason: message }, 'local forwarder did not start');
      }
    }
    if (this.running.length === 0) throw new ForwarderStartError('no forwarder could start');
    this.log.info({ remote: this.count('remote'), local: this.count('local'), failed: failures || undefined }, 'bridge ready');
  }

  /**
   * Moves to `config` (SIGHUP): forwarders it no longer has stop taking connections, new ones start,
   * unchanged ones are not touched; live connections carry on whatever happens to their forwarder. A
   * changed relay listener starts before the old one closes, so the relay always has a listener. When
   * a new local forwarder cannot start (its port is taken), everything goes back to how it was and
   * ForwarderStartError says why.
   */
  async reload(config: BridgeConfig): Promise<ReloadSummary> {
    const plans = planForwarders(config, this.context);
    const wanted = new Set(plans.map((p) => p.key));
    const have = new Set(this.running.map((r) => r.plan.key));
    const leaving = this.running.filter((r) => !wanted.has(r.plan.key));
    const coming = plans.filter((p) => !have.has(p.key));
    const started: Running[] = [];
    // Local listeners give their ports up first; relay listeners are replaced once the new one is there.
    const leavingLocals: Running[] = leaving.filter((r) => r.kind === 'local');
    await Promise.all(leavingLocals.map((r) => r.forwarder.stop()));
    try {
      for (const plan of orderForStart(coming)) started.push(await this.startOne(plan, false));
    } catch (err) {
      await Promise.all(started.map((r) => r.forwarder.stop()));
      const restored = await Promise.all(leavingLocals.map((r) => this.startOne(r.plan, false).catch(() => undefined)));
      this.running = [...this.running.filter((r) => !leavingLocals.includes(r)), ...restored.filter((x): x is Running => x !== undefined)];
      throw new ForwarderStartError((err as Error).message);
    }
    await Promise.all(leaving.filter((r) => r.kind === 'remote').map((r) => r.forwarder.stop()));
    this.running = [...this.running.filter((r) => wanted.has(r.plan.key)), ...started];
    for (const [what, before, after] of [
      ['LogLevel', this.config.logLevel, config.logLevel],
      ['LogFileName', this.config.logFileName, config.logFileName],
      ['ExitOnForwardFailure', this.config.exitOnForwardFailure, config.exitOnForwardFailure],
    ] as const) {
      if (before !== after) this.log.warn({ setting: what }, 'this setting changed; it takes effect at the next start');
    }
    this.config = config;
    return { added: coming.length, removed: leaving.length, kept: plans.length - coming.length };
  }

  /** The prewarm and target pools of the running forwarders, for metrics. */
  pools(): { prewarm: { forwarder: string; ready: () => number }[]; targets: { forwarder: string; members: () => readonly { label: string; up: boolean }[] }[] } {
    const prewarm = this.running.flatMap((r) => (r.kind === 'local' ? [...r.forwarder.prewarmPools()] : []));
    const targets = this.running.flatMap((r) => (r.kind === 'remote' ? [...r.forwarder.targetPools()] : []));
    return { prewarm, targets };
  }

  /**
   * Stops accepting (closes local listeners and relay control channels), waits up to `drainTimeoutMs`
   * for live connections, then cuts the rest. Resolves with the number of connections cut.
   */
  async stop(drainTimeoutMs: number): Promise<number> {
    await this.stopForwarders();
    const live = this.lifecycle.size;
    if (live > 0) this.log.info({ connections: live, drainTimeoutMs }, 'waiting for live connections to finish');
    const cut = await this.lifecycle.drain(drainTimeoutMs);
    if (cut > 0) this.log.warn({ connections: cut }, 'connections cut at the end of the drain period');
    return cut;
  }

  private async startOne(plan: ForwarderPlan, mustStart: boolean): Promise<Running> {
    if (plan.kind === 'remote') {
      const forwarder = plan.build();
      await forwarder.start(mustStart);
      return { kind: 'remote', plan, forwarder };
    }
    const forwarder = plan.build();
    await forwarder.start();
    this.log.info({ hyco: plan.relayName, listen: forwarder.summary, prewarm: plan.prewarm || undefined }, 'local forwarder listening');
    return { kind: 'local', plan, forwarder };
  }

  private count(kind: 'local' | 'remote'): number {
    return this.running.filter((r) => r.kind === kind).length;
  }

  private async stopForwarders(): Promise<void> {
    await Promise.all(this.running.splice(0).map((r) => r.forwarder.stop()));
  }
}

/** Remote forwarders first (a local client may connect at once), in configuration order. */
function orderForStart(plans: ForwarderPlan[]): ForwarderPlan[] {
  return [...plans.filter((p) => p.kind === 'remote'), ...plans.filter((p) => p.kind === 'local')];
}
