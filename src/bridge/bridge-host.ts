import type { ProtocolHandler } from '../forwarding/listener-end.js';
import { ListenError } from '../forwarding/local-listen.js';
import type { ProxyPolicy } from '../proxy/proxy-policy.js';
import type { Logger } from '../util/logger.js';
import type { TlsClientOptions } from '../websocket/client-handshake.js';
import { aztunnelOnBridge } from './aztunnel-on-bridge.js';
import { forwardConnection, poolDefaults, type BridgeConfig, type RemoteBinding, type RemoteForward } from './config/index.js';
import { ConnectionTracker } from './connection-tracker.js';
import { LocalForwarder } from './local/local-forwarder.js';
import type { OutboundOptions } from './outbound-address.js';
import { RemoteForwarder } from './remote/remote-forwarder.js';

export interface BridgeHostOptions {
  log: Logger;
  /** Extra trust for a TLS relay (--ca). */
  tls?: TlsClientOptions;
  /** --token-in-query: tokens travel as sb-hc-token instead of a header. */
  tokenInQuery?: boolean;
  /** --proxy, or the proxy environment variables (default: none). */
  proxy?: ProxyPolicy;
  /** --allow rules for aztunnel envelopes on -T relays (default: none, envelopes are refused). */
  allow?: readonly string[];
  /** Overrides the aztunnel handler (tests). */
  aztunnel?: ProtocolHandler;
  udpIdleMs?: number;
  /**
   * A relay listener stopped for good after the start (its hybrid connection was deleted, or its
   * credentials are refused) and ExitOnForwardFailure is on: the bridge cannot do its job any more.
   */
  onFatal?: (message: string) => void;
}

/** A forwarder could not start and ExitOnForwardFailure is on. */
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

/**
 * Runs one bridge configuration (azbridge's Host): the remote forwarders first (one relay listener per
 * relay name), then the local forwarders. stop() drains: no new connections, live ones get the grace
 * period, then whatever is left is cut.
 */
export class BridgeHost {
  readonly tracker = new ConnectionTracker();
  private readonly remotes: RemoteForwarder[] = [];
  private readonly locals: LocalForwarder[] = [];
  private readonly log: Logger;

  constructor(
    private readonly config: BridgeConfig,
    private readonly options: BridgeHostOptions,
  ) {
    this.log = options.log;
  }

  /** Starts everything; throws ForwarderStartError when a forwarder fails and ExitOnForwardFailure is on. */
  async start(): Promise<void> {
    const config = this.config;
    const mustStart = config.exitOnForwardFailure;
    const targetTimeoutMs = config.connectTimeout ? config.connectTimeout * 1000 : DEFAULT_TARGET_TIMEOUT_MS;
    const outbound: OutboundOptions = { sourceAddress: config.bindAddress, addressFamily: config.addressFamily, connectTimeoutMs: targetTimeoutMs };
    const aztunnel = this.options.aztunnel ?? aztunnelOnBridge(this.options.allow ?? [], { connectTimeoutMs: targetTimeoutMs, log: this.log });
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
        tracker: this.tracker,
        tls: this.options.tls,
        tokenInQuery: this.options.tokenInQuery,
        proxy: this.options.proxy,
        udpIdleMs: this.options.udpIdleMs,
        poolDefaults: poolDefaults(config),
        onStopped: (error) => {
          const message = `relay ${group.first.relayName} (${group.first.source}): ${error.message}`;
          if (mustStart) this.options.onFatal?.(message);
          else this.log.warn({ relay: group.first.relayName }, 'ExitOnForwardFailure is off: the bridge goes on without this relay listener');
        },
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
        tracker: this.tracker,
        tls: this.options.tls,
        tokenInQuery: this.options.tokenInQuery,
        proxy: this.options.proxy,
        udpIdleMs: this.options.udpIdleMs,
        maxUdpFlows: config.maxUdpFlows,
        mux: config.mux,
      });
      try {
        await forwarder.start();
        this.locals.push(forwarder);
        this.log.info({ relay: forward.relayName, listen: forwarder.summary, prewarm: forward.prewarm || undefined }, 'local forwarder listening');
      } catch (err) {
        failures++;
        const message = `${forward.source}: ${(err as Error).message}`;
        if (mustStart) {
          await this.stopForwarders();
          throw new ForwarderStartError(message, err instanceof ListenError && err.configProblem);
        }
        this.log.error({ relay: forward.relayName, reason: message }, 'local forwarder did not start');
      }
    }

    if (this.remotes.length + this.locals.length === 0) throw new ForwarderStartError('no forwarder could start');
    this.log.info({ remote: this.remotes.length, local: this.locals.length, failed: failures || undefined }, 'bridge ready');
  }

  /**
   * Stops accepting (closes local listeners and relay control channels), waits up to `drainTimeoutMs`
   * for live connections, then cuts the rest. Resolves with the number of connections cut.
   */
  async stop(drainTimeoutMs: number): Promise<number> {
    await this.stopForwarders();
    const live = this.tracker.size;
    if (live > 0) this.log.info({ connections: live, drainTimeoutMs }, 'waiting for live connections to finish');
    const cut = await this.tracker.drain(drainTimeoutMs);
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
