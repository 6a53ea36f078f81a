import { HybridConnectionClient } from '../../client/index.js';
import { SenderEnd } from '../../forwarding/sender-end.js';
import type { ConnectionString } from '../../protocol/connection-string.js';
import type { ProxyPolicy } from '../../proxy/proxy-policy.js';
import type { TlsClientOptions } from '../../websocket/client-handshake.js';
import type { LocalForward } from '../config/index.js';
import { relayClientOptions } from '../relay-options.js';
import type { LocalContext, LocalListener } from './local-context.js';
import { StreamForwarder } from './stream-forwarder.js';
import { UdpForwarder } from './udp-forwarder.js';

export interface LocalForwarderOptions extends Omit<LocalContext, 'relayName' | 'senderFor'> {
  connection: ConnectionString;
  attempts: number | undefined;
  attemptTimeoutMs?: number;
  tls?: TlsClientOptions;
  tokenInQuery?: boolean;
  proxy?: ProxyPolicy;
  /** Sockets kept connected to the relay host (HybridConnectionOptions.preconnect). */
  preconnect?: number;
  /** Multiplexed sessions per sender end (0 = off). */
  mux?: number;
}

/**
 * One LocalForward entry: its bindings' listeners and the relayed connections they send through.
 * Bindings with NoAuthentication connect without a token; each kind has its own prewarmed pool.
 */
export class LocalForwarder {
  readonly listeners: LocalListener[];
  private readonly senders = new Map<boolean, SenderEnd>();

  constructor(
    readonly forward: LocalForward,
    private readonly options: LocalForwarderOptions,
  ) {
    const ctx: LocalContext = { ...options, relayName: forward.relayName, senderFor: (anonymous) => this.senderFor(anonymous) };
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
      this.closeSenders();
      throw err;
    }
    // Create the sender ends now, so that prewarming starts before the first client arrives.
    for (const binding of this.forward.bindings) this.senderFor(binding.noAuthentication);
  }

  async stop(): Promise<void> {
    await Promise.all(this.listeners.map((l) => l.stop()));
    this.closeSenders();
  }

  /** Where each binding listens and its port name, for the startup log. */
  get summary(): string {
    return this.forward.bindings.map((b, i) => `${this.listeners[i]!.addresses.join(',') || (b.kind === 'unix' ? b.path : String(b.port))} as "${b.portName}"`).join('; ');
  }

  /** The prewarm pools (one per kind of authentication the bindings use), for metrics. */
  *prewarmPools(): Iterable<{ forwarder: string; ready: () => number }> {
    for (const [anonymous, sender] of this.senders) {
      if (sender.prewarmReady === undefined) continue;
      yield { forwarder: anonymous ? `${this.relayName} (anonymous)` : this.relayName, ready: () => sender.prewarmReady ?? 0 };
    }
  }

  private senderFor(anonymous: boolean): SenderEnd {
    let sender = this.senders.get(anonymous);
    if (!sender) {
      const client = new HybridConnectionClient(relayClientOptions(this.options.connection, { anonymous, tls: this.options.tls, tokenInQuery: this.options.tokenInQuery, proxy: this.options.proxy, preconnect: this.options.preconnect }));
      sender = new SenderEnd(client, {
        style: 'azbridge',
        attempts: this.options.attempts,
        attemptTimeoutMs: this.options.attemptTimeoutMs,
        prewarm: this.forward.prewarm,
        mux: this.options.mux,
        log: this.options.log,
      });
      this.senders.set(anonymous, sender);
    }
    return sender;
  }

  private closeSenders(): void {
    for (const sender of this.senders.values()) sender.close();
    this.senders.clear();
  }
}
