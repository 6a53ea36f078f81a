import { HybridConnectionClient } from '../../client/index.js';
import type { ConnectionString } from '../../protocol/connection-string.js';
import type { ProxyPolicy } from '../../proxy/proxy-policy.js';
import type { TlsClientOptions } from '../../websocket/client-handshake.js';
import type { LocalForward } from '../config/index.js';
import { relayClientOptions } from '../relay-options.js';
import type { LocalContext, LocalListener } from './local-context.js';
import { SenderConnector } from './sender-connector.js';
import { StreamForwarder } from './stream-forwarder.js';
import { UdpForwarder } from './udp-forwarder.js';

export interface LocalForwarderOptions extends Omit<LocalContext, 'relayName' | 'connectorFor'> {
  connection: ConnectionString;
  attempts: number | undefined;
  attemptTimeoutMs?: number;
  tls?: TlsClientOptions;
  tokenInQuery?: boolean;
  proxy?: ProxyPolicy;
  /** Sockets kept connected to the relay host (HybridConnectionOptions.preconnect). */
  preconnect?: number;
  /** Multiplexed sessions per connector (0 = off). */
  mux?: number;
}

/**
 * One LocalForward entry: its bindings' listeners and the relayed connections they send through.
 * Bindings with NoAuthentication connect without a token; each kind has its own prewarmed pool.
 */
export class LocalForwarder {
  readonly listeners: LocalListener[];
  private readonly connectors = new Map<boolean, SenderConnector>();

  constructor(
    readonly forward: LocalForward,
    private readonly options: LocalForwarderOptions,
  ) {
    const ctx: LocalContext = { ...options, relayName: forward.relayName, connectorFor: (anonymous) => this.connectorFor(anonymous) };
    this.listeners = forward.bindings.map((binding) => (binding.kind === 'udp' ? new UdpForwarder(binding, ctx) : new StreamForwarder(binding, ctx)));
  }

  get relayName(): string {
    return this.forward.relayName;
  }

  /** Starts every listener; if one fails, the ones already started are stopped and the error thrown. */
  async start(): Promise<void> {
    const started: LocalListener[] = [];
    try {
      for (const listener of this.listeners) {
        await listener.start();
        started.push(listener);
      }
    } catch (err) {
      await Promise.all(started.map((l) => l.stop()));
      this.closeConnectors();
      throw err;
    }
    // Create the connectors now, so that prewarming starts before the first client arrives.
    for (const binding of this.forward.bindings) this.connectorFor(binding.noAuthentication);
  }

  async stop(): Promise<void> {
    await Promise.all(this.listeners.map((l) => l.stop()));
    this.closeConnectors();
  }

  /** Where each binding listens and its port name, for the startup log. */
  get summary(): string {
    return this.forward.bindings.map((b, i) => `${this.listeners[i]!.addresses.join(',') || (b.kind === 'unix' ? b.path : String(b.port))} as "${b.portName}"`).join('; ');
  }

  /** The prewarm pools (one per kind of authentication the bindings use), for metrics. */
  *prewarmPools(): Iterable<{ forwarder: string; ready: () => number }> {
    for (const [anonymous, connector] of this.connectors) {
      if (connector.prewarmReady === undefined) continue;
      yield { forwarder: anonymous ? `${this.relayName} (anonymous)` : this.relayName, ready: () => connector.prewarmReady ?? 0 };
    }
  }

  private connectorFor(anonymous: boolean): SenderConnector {
    let connector = this.connectors.get(anonymous);
    if (!connector) {
      const client = new HybridConnectionClient(relayClientOptions(this.options.connection, { anonymous, tls: this.options.tls, tokenInQuery: this.options.tokenInQuery, proxy: this.options.proxy, preconnect: this.options.preconnect }));
      connector = new SenderConnector(client, {
        relayName: this.forward.relayName,
        attempts: this.options.attempts,
        attemptTimeoutMs: this.options.attemptTimeoutMs,
        prewarm: this.forward.prewarm,
        mux: this.options.mux,
        log: this.options.log,
      });
      this.connectors.set(anonymous, connector);
    }
    return connector;
  }

  private closeConnectors(): void {
    for (const connector of this.connectors.values()) connector.close();
    this.connectors.clear();
  }
}
