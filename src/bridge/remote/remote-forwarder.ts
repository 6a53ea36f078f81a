import { randomUUID } from 'node:crypto';
import { encodePortList, PORTS_HEADER } from '../../protocol/port-announcement.js';
import { HybridConnectionListener, type HybridConnectionStream } from '../../client/index.js';
import type { ConnectionLifecycle } from '../../forwarding/lifecycle/connection-lifecycle.js';
import { dispatchConnection, LISTENER_MAX_AUTHORIZATION_FAILURES, trackAccepted, type ProtocolHandler } from '../../forwarding/listener-end.js';
import type { ConnectionString } from '../../protocol/connection-string.js';
import type { ProxyPolicy } from '../../proxy/proxy-policy.js';
import type { Logger } from '../../util/logger.js';
import type { TlsClientOptions } from '../../websocket/client-handshake.js';
import type { HttpRemoteBinding, PoolSettings, RemoteBinding } from '../config/index.js';
import type { OutboundOptions } from '../outbound-address.js';
import { MuxListener } from '../../mux/mux-listener.js';
import { relayClientOptions } from '../relay-options.js';
import { AffinityAgents } from './http-affinity.js';
import { createHttpRequestHandler } from './http-proxy.js';
import { createHttpUpgradeHandler } from './http-websocket.js';
import { createAzbridgeHandler, type AzbridgeHandler } from './serve-azbridge.js';

export interface RemoteForwarderOptions {
  relayName: string;
  connection: ConnectionString;
  bindings: readonly RemoteBinding[];
  /** Control-channel keep-alive (KeepAliveInterval, -a); 0 turns pings off. */
  keepAliveIntervalMs: number;
  outbound: OutboundOptions;
  /** Serves connections whose first message is an aztunnel envelope (text). */
  aztunnel: ProtocolHandler;
  log: Logger;
  lifecycle: ConnectionLifecycle;
  /** Control-channel state changes (metrics). */
  onControlChannel?(relayName: string, online: boolean): void;
  tls?: TlsClientOptions;
  tokenInQuery?: boolean;
  proxy?: ProxyPolicy;
  /** Sockets kept connected to the rendezvous host (HybridConnectionOptions.preconnect). */
  preconnect?: number;
  udpIdleMs?: number;
  /** LoadBalancing / HealthCheck defaults for this relay's target pools. */
  poolDefaults?: PoolSettings;
  /** The relay listener stopped for good (no such hybrid connection, credentials refused). */
  onStopped?: (error: Error) => void;
}

/**
 * One relay (hybrid connection) this bridge listens on: a control channel that reconnects on its
 * own, azbridge preamble connections to the -T/-R targets, aztunnel envelopes to the aztunnel
 * handler, and HTTP requests to the -H targets.
 */
export class RemoteForwarder {
  private listener: HybridConnectionListener | undefined;
  private started = false;
  private affinity: AffinityAgents | undefined;
  private readonly azbridge: AzbridgeHandler;
  private readonly log: Logger;
  /** One id for every control channel of this forwarder, so refusals name the listener a sender can exclude. */
  private readonly listenerId = randomUUID();
  /** Streams of multiplexed sessions are served like relayed connections of their own. */
  private readonly mux: MuxListener;

  constructor(private readonly options: RemoteForwarderOptions) {
    this.log = options.log;
    this.mux = new MuxListener({ log: options.log, serve: (stream) => this.serve(stream, false) });
    this.azbridge = createAzbridgeHandler(options.bindings, {
      listenerId: this.listenerId,
      ...options.outbound,
      relayName: options.relayName,
      log: options.log,
      udpIdleMs: options.udpIdleMs,
      poolDefaults: options.poolDefaults,
    });
  }

  get relayName(): string {
    return this.options.relayName;
  }

  /** A line for the startup log: what this relay leads to. */
  get summary(): string {
    return this.options.bindings.map(describeBinding).join('; ');
  }

  /**
   * Connects the control channel. With `mustConnect`, a first connection failure rejects (and the
   * forwarder is stopped); otherwise it is logged and the listener keeps retrying in the background.
   */
  async start(mustConnect: boolean): Promise<void> {
    const first = this.createListener();
    this.listener = first;
    this.azbridge.start();
    try {
      await first.open();
      this.started = true;
      return;
    } catch (err) {
      await first.close().catch(() => undefined);
      if (mustConnect) {
        this.azbridge.close();
        throw err;
      }
      this.log.error({ hyco: this.relayName, reason: (err as Error).message }, 'relay listener could not connect; retrying in the background');
    }
    const retrying = this.createListener();
    this.listener = retrying;
    this.started = true;
    retrying.start();
  }

  /** The target pools of this relay's ports, for metrics. */
  *targetPools(): Iterable<{ forwarder: string; members: () => readonly { label: string; up: boolean }[] }> {
    for (const { port, members } of this.azbridge.pools()) yield { forwarder: `${this.relayName}:${port}`, members: () => members };
  }

  /** Closes the control channel: no new connections or requests; accepted ones carry on. */
  async stop(): Promise<void> {
    this.started = false;
    this.affinity?.closeAll();
    this.mux.goAway();
    this.azbridge.close();
    await this.listener?.close().catch(() => undefined);
  }

  private createListener(): HybridConnectionListener {
    const o = this.options;
    const httpBindings = o.bindings.filter((b): b is HttpRemoteBinding => b.kind === 'http');
    this.affinity?.closeAll();
    const affinity = httpBindings.some((b) => b.connectionAffinity) ? new AffinityAgents() : undefined;
    this.affinity = affinity;
    const listener = new HybridConnectionListener({
      ...relayClientOptions(o.connection, { tls: o.tls, tokenInQuery: o.tokenInQuery, proxy: o.proxy, preconnect: o.preconnect }),
      keepAliveIntervalMs: o.keepAliveIntervalMs,
      listenerId: this.listenerId,
      // Port-name-aware routing on the hybridge relay; Azure and older relays ignore the header.
      headers: { [PORTS_HEADER]: encodePortList(this.azbridge.portNames) },
      maxAuthorizationFailures: LISTENER_MAX_AUTHORIZATION_FAILURES,
      requestHandler: createHttpRequestHandler(httpBindings, { ...o.outbound, relayName: o.relayName, log: o.log, lifecycle: o.lifecycle, affinity }),
      // WebSocket upgrades on the relay's HTTP address go to the -H targets; every other accept is a stream.
      acceptHandler: createHttpUpgradeHandler({ ...o.outbound, relayName: o.relayName, log: o.log, lifecycle: o.lifecycle, nextBinding: takeTurns(httpBindings) }),
    });
    if (affinity) listener.on('clientConnectionClosed', (id) => affinity.close(id));
    listener.on('online', () => {
      this.log.info({ hyco: o.relayName, forwards: this.summary, listenerId: listener.listenerId }, 'relay listener online');
      o.onControlChannel?.(o.relayName, true);
    });
    listener.on('connecting', () => this.log.debug({ hyco: o.relayName }, 'relay listener connecting'));
    listener.on('stalled', (silentMs) => this.log.warn({ hyco: o.relayName, silentMs }, 'relay listener control channel not answering; opening another one beside it'));
    listener.on('offline', (error) => {
      o.onControlChannel?.(o.relayName, false);
      if (!error) return;
      this.log.error({ hyco: o.relayName, reason: error.message }, 'relay listener stopped');
      // A first open() that fails is reported by start(); only a listener that was running stops here.
      if (this.listener === listener && this.started) o.onStopped?.(error);
    });
    listener.on('error', (error) => {
      if (!listener.isOnline) o.onControlChannel?.(o.relayName, false);
      this.log.warn({ hyco: o.relayName, reason: error.message }, 'relay listener problem');
    });
    listener.on('connection', (stream: HybridConnectionStream) => {
      this.serve(stream, true);
    });
    return listener;
  }

  private serve(stream: HybridConnectionStream, mayMultiplex: boolean): void {
    const o = this.options;
    const dispatch = { firstMessageTimeoutMs: 60_000, ...(mayMultiplex && { mux: this.mux }) };
    const connection = trackAccepted(o.lifecycle, stream, { hyco: o.relayName });
    void dispatchConnection(stream, { azbridge: this.azbridge, aztunnel: o.aztunnel }, connection, dispatch).catch((err: Error) => {
      connection.end({ end: 'local-error', reason: `connection handler failed: ${err.message}` });
      stream.destroy();
    });
  }
}

function describeBinding(binding: RemoteBinding): string {
  switch (binding.kind) {
    case 'unix':
      return `${binding.portName} -> unix:${binding.path}`;
    case 'http':
      return `${binding.scheme}://${binding.host}:${binding.port}${binding.path}`;
    default:
      return `${binding.portName} -> ${binding.kind}:${binding.host.includes(':') ? `[${binding.host}]` : binding.host}:${binding.port}`;
  }
}

/** The bindings in turn (undefined when there are none). */
function takeTurns<T>(items: readonly T[]): () => T | undefined {
  let turn = 0;
  return () => {
    const item = items[turn % Math.max(1, items.length)];
    turn++;
    return item;
  };
}
