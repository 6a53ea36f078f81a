import type { ConnectionLifecycle } from '../forwarding/lifecycle/connection-lifecycle.js';
import type { BridgeHostOptions } from './bridge-host.js';
import { refuseAztunnelSenders } from './aztunnel-refused.js';
import { forwardConnection, poolDefaults, type BridgeConfig, type RemoteBinding, type RemoteForward } from './config/index.js';
import { LocalForwarder } from './local/local-forwarder.js';
import type { OutboundOptions } from './outbound-address.js';
import { RemoteForwarder } from './remote/remote-forwarder.js';

/** A forwarder could not start and ExitOnForwardFailure is on (or a reload could not apply). */
export class ForwarderStartError extends Error {
  constructor(
    message: string,
    /** The configuration is at fault (an address or directory that does not exist), not the moment. */
    readonly configProblem = false,
  ) {
    super(message);
    this.name = 'ForwarderStartError';
  }
}

/** Target dials and HTTP proxy connects when ConnectTimeout is not set. */
const DEFAULT_TARGET_TIMEOUT_MS = 30_000;
/** A local side waits this long for the remote's answer to its preamble (the remote dials first). */
const MIN_REPLY_TIMEOUT_MS = 60_000;

/** What the forwarders are built with: the bridge host's options, its lifecycle, and what to do when a relay listener stops. */
export type PlanContext = Omit<BridgeHostOptions, 'lifecycle' | 'onFatal'> & {
  lifecycle: ConnectionLifecycle;
  /** A relay listener stopped for good after its start (hybrid connection deleted, credentials refused). */
  onRemoteStopped?(relayName: string, source: string, error: Error): void;
};

/**
 * One forwarder a configuration asks for: a relay listener (all RemoteForward entries of one relay)
 * or a LocalForward entry. `key` is everything it is built from, so two configurations that give a
 * forwarder the same key need not touch it on reload.
 */
export type ForwarderPlan =
  | { kind: 'remote'; key: string; relayName: string; source: string; build(): RemoteForwarder }
  | { kind: 'local'; key: string; relayName: string; source: string; prewarm: number; build(): LocalForwarder };

/** The forwarders of a configuration; throws ForwarderStartError when one has no relay to reach. */
export function planForwarders(config: BridgeConfig, ctx: PlanContext): ForwarderPlan[] {
  const targetTimeoutMs = config.connectTimeout ? config.connectTimeout * 1000 : DEFAULT_TARGET_TIMEOUT_MS;
  const outbound: OutboundOptions = { sourceAddress: config.bindAddress, addressFamily: config.addressFamily, connectTimeoutMs: targetTimeoutMs };
  const plans: ForwarderPlan[] = [];
  for (const group of groupByRelay(config.remoteForward)) {
    const connection = forwardConnection(config, group.first);
    if (!connection) throw new ForwarderStartError(`${group.first.source}: no connection string or endpoint for relay ${group.first.relayName}`);
    const settings = { connection, bindings: group.bindings, keepAlive: config.keepAliveInterval, outbound, pools: poolDefaults(config) };
    plans.push({
      kind: 'remote',
      key: `remote ${stableKey(settings)}`,
      relayName: group.first.relayName,
      source: group.first.source,
      build: () =>
        new RemoteForwarder({
          relayName: group.first.relayName,
          connection,
          bindings: group.bindings,
          keepAliveIntervalMs: config.keepAliveInterval * 1000,
          outbound,
          aztunnel: ctx.serveAztunnel?.({ connectTimeoutMs: targetTimeoutMs }) ?? refuseAztunnelSenders,
          log: ctx.log,
          lifecycle: ctx.lifecycle,
          onControlChannel: ctx.onControlChannel,
          tls: ctx.tls,
          tokenInQuery: ctx.tokenInQuery,
          proxy: ctx.proxy,
          preconnect: ctx.preconnect,
          udpIdleMs: ctx.udpIdleMs,
          poolDefaults: settings.pools,
          onStopped: (error) => ctx.onRemoteStopped?.(group.first.relayName, group.first.source, error),
        }),
    });
  }
  for (const forward of config.localForward) {
    const connection = forwardConnection(config, forward);
    if (!connection) throw new ForwarderStartError(`${forward.source}: no connection string or endpoint for relay ${forward.relayName}`);
    const options = {
      connection,
      attempts: config.connectionAttempts,
      attemptTimeoutMs: config.connectTimeout ? config.connectTimeout * 1000 : undefined,
      replyTimeoutMs: Math.max(MIN_REPLY_TIMEOUT_MS, targetTimeoutMs + 10_000),
      gatewayPorts: config.gatewayPorts,
      addressFamily: config.addressFamily,
      maxUdpFlows: config.maxUdpFlows,
      mux: config.mux,
    };
    plans.push({
      kind: 'local',
      key: `local ${stableKey({ forward, options })}`,
      relayName: forward.relayName,
      source: forward.source,
      prewarm: forward.prewarm,
      build: () => new LocalForwarder(forward, { ...options, log: ctx.log, lifecycle: ctx.lifecycle, tls: ctx.tls, tokenInQuery: ctx.tokenInQuery, proxy: ctx.proxy, preconnect: ctx.preconnect, udpIdleMs: ctx.udpIdleMs }),
    });
  }
  return plans;
}

/** JSON of what a forwarder is built from, without where it was written (a moved line is no change). */
function stableKey(value: unknown): string {
  return JSON.stringify(value, (key, v: unknown) => (key === 'source' || key === 'where' ? undefined : v));
}

interface RelayGroup {
  first: RemoteForward;
  bindings: RemoteBinding[];
}

/**
 * RemoteForward entries by relay name: one listener per relay serves all of its port names (two
 * listeners for one relay would each get only some of the connections). The first entry's
 * connection string is used for the relay.
 */
function groupByRelay(forwards: readonly RemoteForward[]): RelayGroup[] {
  const groups = new Map<string, RelayGroup>();
  for (const forward of forwards) {
    const group = groups.get(forward.relayName);
    if (group) for (const binding of forward.bindings) group.bindings.push(binding);
    else groups.set(forward.relayName, { first: forward, bindings: [...forward.bindings] });
  }
  return [...groups.values()];
}
