import type { ProtocolHandler } from '../forwarding/listener-end.js';
import type { Logger } from '../util/logger.js';
import type { TlsClientOptions } from '../websocket/client-handshake.js';
import { aztunnelOnBridge } from './aztunnel-on-bridge.js';
import { forwardConnection, poolDefaults, type BridgeConfig, type RemoteBinding, type RemoteForward } from './config/index.js';
import { ConnectionLifecycle } from '../forwarding/lifecycle/connection-lifecycle.js';
import { LocalForwarder } from './local/local-forwarder.js';
import type { OutboundOptions } from './outbound-address.js';
import { RemoteForwarder } from './remote/remote-forwarder.js';

export interface BridgeHostOptions {
  log: Logger;
  /** Extra trust for a TLS relay (--ca). */
  tls?: TlsClientOptions;
  /** --allow rules for aztunnel envelopes on -T relays (default: none, envelopes are refused). */
  allow?: readonly string[];
  /** Overrides the aztunnel handler (tests). */
  aztunnel?: ProtocolHandler;
  udpIdleMs?: number;
  /** Where the bridge's connections are tracked (one is made when not given). */
  lifecycle?: ConnectionLifecycle;
  /** Control-channel state changes of the relay listeners (metrics). */
  onControlChannel?(relayName: string, online: boolean): void;
}

/** A forwarder could not start and ExitOnForwardFailure is on. */
export class ForwarderStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ForwarderStartError';
  }
}

/** Target dials and HTTP proxy connects when ConnectTimeout is not set. */
const DEFAULT_TARGET_TIMEOUT_MS = 30_000;
/** A local side waits this long for the remote's answer to its preamble (the remote dials first). */
const MIN_REPLY_TIMEOUT_MS = 60_000;

/**
 * Runs one bridge configuration (azbridge's Host): the remote forwarders first (one relay listener per
 * relay name), then the local forwarders. stop() drains: no new connections, live ones get the grace
 * period, then whatever is left is cut.
 */
export class BridgeHost {
  readonly lifecycle: ConnectionLifecycle;
  private readonly remotes: RemoteForwarder[] = [];
  private readonly locals: LocalForwarder[] = [];
  private readonly log: Logger;

  constructor(
    private readonly config: BridgeConfig,
    private readonly options: BridgeHostOptions,
  ) {
    this.log = options.log;
    this.lifecycle = options.lifecycle ?? new ConnectionLifecycle(options.log);
  }

  /** Starts everything; throws ForwarderStartError when a forwarder fails and ExitOnForwardFailure is on. */
  async start(): Promise<void> {
    const config = this.config;
    const mustStart = config.exitOnForwardFailure;
    const targetTimeoutMs = config.connectTimeout ? config.connectTimeout * 1000 : DEFAULT_TARGET_TIMEOUT_MS;
    const outbound: OutboundOptions = { sourceAddress: config.bindAddress, addressFamily: config.addressFamily, connectTimeoutMs: targetTimeoutMs };
    const aztunnel = this.options.aztunnel ?? aztunnelOnBridge(this.options.allow ?? [], { connectTimeoutMs: targetTimeoutMs });
    let failures = 0;

    for (const group of groupByRelay(config.remoteForward)) {
      const connection = forwardConnection(config, group.first);
      if (!connection) throw new ForwarderStartError(`${group.first.source}: no connection string or endpoint for relay ${group.first.relayName}`);
      const forwarder = new RemoteForwarder({
        relayName: group.first.relayName,
        connection,
        bindings: group.bindings,
        keepAliveIntervalMs: config.keepAliveInterval * 1000,
        outbound,
        aztunnel,
        log: this.log,
        lifecycle: this.lifecycle,
        onControlChannel: this.options.onControlChannel,
        tls: this.options.tls,
        udpIdleMs: this.options.udpIdleMs,
        poolDefaults: poolDefaults(config),
      });
      try {
        await forwarder.start(mustStart);
        this.remotes.push(forwarder);
      } catch (err) {
        failures++;
        const message = `relay ${forwarder.relayName} (${group.first.source}): ${(err as Error).message}`;
        if (mustStart) {
          await this.stopForwarders();
          throw new ForwarderStartError(message);
        }
      }
    }

    for (const forward of config.localForward) {
      const connection = forwardConnection(config, forward);
      if (!connection) throw new ForwarderStartError(`${forward.source}: no connection string or endpoint for relay ${forward.relayName}`);
      const forwarder = new LocalForwarder(forward, {
        connection,
        attempts: config.connectionAttempts,
        attemptTimeoutMs: config.connectTimeout ? config.connectTimeout * 1000 : undefined,
        replyTimeoutMs: Math.max(MIN_REPLY_TIMEOUT_MS, targetTimeoutMs + 10_000),
        gatewayPorts: config.gatewayPorts,
        addressFamily: config.addressFamily,
        log: this.log,
        lifecycle: this.lifecycle,
        tls: this.options.tls,
        udpIdleMs: this.options.udpIdleMs,
        maxUdpFlows: config.maxUdpFlows,
      });
      try {
        await forwarder.start();
        this.locals.push(forwarder);
        this.log.info({ hyco: forward.relayName, listen: forwarder.summary, prewarm: forward.prewarm || undefined }, 'local forwarder listening');
      } catch (err) {
        failures++;
        const message = `${forward.source}: ${(err as Error).message}`;
        if (mustStart) {
          await this.stopForwarders();
          throw new ForwarderStartError(message);
        }
        this.log.error({ hyco: forward.relayName, reason: message }, 'local forwarder did not start');
      }
    }

    if (this.remotes.length + this.locals.length === 0) throw new ForwarderStartError('no forwarder could start');
    this.log.info({ remote: this.remotes.length, local: this.locals.length, failed: failures || undefined }, 'bridge ready');
  }

  /** The prewarm and target pools of the running forwarders, for metrics. */
  pools(): { prewarm: { forwarder: string; ready: () => number }[]; targets: { forwarder: string; members: () => readonly { label: string; up: boolean }[] }[] } {
    return { prewarm: this.locals.flatMap((l) => [...l.prewarmPools()]), targets: this.remotes.flatMap((r) => [...r.targetPools()]) };
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

  private async stopForwarders(): Promise<void> {
    await Promise.all([...this.locals.splice(0).map((l) => l.stop()), ...this.remotes.splice(0).map((r) => r.stop())]);
  }
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
