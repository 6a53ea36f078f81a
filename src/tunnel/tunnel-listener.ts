/**
 * The `relay-listener` process: one control channel on a hybrid connection, and for every sender a
 * separate rendezvous connection served by the protocol its first message names (a JSON envelope
 * from aztunnel-style senders, a binary preamble from azbridge-style ones).
 *
 * Tunnels live on their own rendezvous sockets, so a control-channel reconnect leaves them running
 * (aztunnel cancels every bridge when its control loop restarts). drain() stops accepting and gives
 * open tunnels a grace period before cutting them.
 */
import type { HybridConnectionOptions } from '../client/connection-options.js';
import type { ArcListenerEnd } from '../arc/serve-arc.js';
import { HybridConnectionListener, type AcceptContext, type AcceptDecision } from '../client/hybrid-connection-listener.js';
import type { HybridConnectionStream } from '../client/hybrid-connection-stream.js';
import { ConnectionLifecycle } from '../forwarding/lifecycle/connection-lifecycle.js';
import { dispatchConnection, LISTENER_MAX_AUTHORIZATION_FAILURES, trackAccepted, type ProtocolHandler } from '../forwarding/listener-end.js';
import type { TrackedConnection } from '../forwarding/lifecycle/tracked-connection.js';
import { MuxListener } from '../mux/mux-listener.js';
import { encodePreambleReply } from '../protocol/azbridge-preamble.js';
import { formatEndpoint } from '../protocol/relay-endpoint.js';
import type { Logger } from '../util/logger.js';
import type { ConnectionSlots } from './connection-slots.js';
import { closeQuietly, sendRelayMessage } from '../forwarding/relay-messages.js';

export interface TunnelListenerOptions {
  connection: HybridConnectionOptions;
  listenerId: string;
  aztunnel: ProtocolHandler;
  azbridge: ProtocolHandler;
  /** `--arc-compatible`: senders naming a Microsoft-Guestgateway-Target reach that local port, without an envelope. */
  arc?: ArcListenerEnd;
  /**
   * The `--max-connections` slots: taken for every connection at accept, shared with the aztunnel
   * handler (which refuses a tunnel in-band when its connection holds none); bounds connections before
   * the rendezvous too.
   */
  slots: ConnectionSlots;
  /** How long a new connection may stay silent before its first message. */
  firstMessageTimeoutMs: number;
  log: Logger;
  /** Where the connections are tracked, counted and drained (one is made when not given). */
  lifecycle?: ConnectionLifecycle;
  /** Control-channel state changes (metrics). */
  onControlChannel?(online: boolean): void;
  /** Called when the listener cannot go on (the hybrid connection does not exist, the credentials are refused). */
  onFatal?: (error: Error) => void;
  /** Control channel and accepted connections (see ListenerOptions). */
  keepAliveIntervalMs?: number;
  stallTimeoutMs?: number;
  reconnectDelaysMs?: number[];
  /** Streams one multiplexed session may hold at once (default DEFAULT_MAX_STREAMS). */
  muxMaxStreams?: number;
}

/**
 * Refused senders are answered in-band (a rendezvous each, closed at once). This many connections
 * beyond the limit may be in that state; past it, the relay is told to refuse before the rendezvous
 * (503), which keeps a flood from costing a socket per sender.
 */
const MIN_REFUSAL_HEADROOM = 16;
/** How long drain() waits for the control channel to close. */
const CLOSE_WAIT_MS = 5000;

export class TunnelListener {
  private readonly listener: HybridConnectionListener;
  readonly lifecycle: ConnectionLifecycle;
  private aztunnel: ProtocolHandler;
  private azbridge: ProtocolHandler;
  private draining = false;
  private wasOnline = false;
  /** Streams of multiplexed sessions are served like connections of their own (slots, drain, logs). */
  private readonly mux: MuxListener;

  constructor(private readonly options: TunnelListenerOptions) {
    this.lifecycle = options.lifecycle ?? new ConnectionLifecycle(options.log);
    this.aztunnel = options.aztunnel;
    this.azbridge = options.azbridge;
    this.mux = new MuxListener({ log: options.log, listenerId: options.listenerId, maxStreams: options.muxMaxStreams, serve: (stream) => this.serve(stream) });
    this.listener = new HybridConnectionListener({
      ...options.connection,
      listenerId: options.listenerId,
      acceptHandler: (context) => this.admit(context),
      keepAliveIntervalMs: options.keepAliveIntervalMs,
      stallTimeoutMs: options.stallTimeoutMs,
      reconnectDelaysMs: options.reconnectDelaysMs,
      maxAuthorizationFailures: LISTENER_MAX_AUTHORIZATION_FAILURES,
    });
    const c = this.listener.connection;
    const where = { hyco: c.entityPath, relay: formatEndpoint(c.endpoint), listenerId: options.listenerId };
    const log = options.log;
    this.listener.on('connecting', () => log.debug(where, 'connecting control channel'));
    this.listener.on('stalled', (silentMs) => log.warn({ ...where, silentMs }, 'control channel not answering; opening another one beside it'));
    this.listener.on('online', () => {
      log.info({ ...where, reconnected: this.wasOnline || undefined }, 'listener online');
      this.wasOnline = true;
      options.onControlChannel?.(true);
    });
    this.listener.on('error', (error) => {
      if (!this.listener.isOnline) options.onControlChannel?.(false);
      log.warn({ hyco: c.entityPath, reason: error.message }, 'relay problem');
    });
    this.listener.on('offline', (error) => {
      options.onControlChannel?.(false);
      if (!error) return;
      log.error({ hyco: c.entityPath, reason: error.message }, 'listener stopped');
      options.onFatal?.(error);
    });
    this.listener.on('connection', (stream) => this.serve(stream));
  }

  /** Open connections (tunnels, and connections still being answered). */
  get liveCount(): number {
    return this.lifecycle.size;
  }

  get isOnline(): boolean {
    return this.listener.isOnline;
  }

  /**
   * New connections are served by these from now on (SIGHUP: a new allowlist, new --bridge-target
   * bindings); connections already being served keep the handlers they started with.
   */
  useHandlers(handlers: { aztunnel: ProtocolHandler; azbridge: ProtocolHandler }): void {
    this.aztunnel = handlers.aztunnel;
    this.azbridge = handlers.azbridge;
  }

  /** Connects in the background and keeps reconnecting; progress goes to the log. */
  start(): void {
    this.listener.start();
  }

  /** Stops accepting, waits up to `graceMs` for open tunnels, then cuts the rest. */
  async drain(graceMs: number): Promise<void> {
    this.draining = true;
    this.mux.goAway();
    // Closing waits for a control-channel connect in flight; a relay that does not answer must not hold up the drain.
    await Promise.race([this.listener.close(), new Promise((resolve) => setTimeout(resolve, CLOSE_WAIT_MS).unref())]);
    const { log } = this.options;
    const lifecycle = this.lifecycle;
    if (lifecycle.size > 0) log.info({ open: lifecycle.size, graceMs }, 'no longer accepting; waiting for open tunnels to finish');
    const cut = await lifecycle.drain(graceMs);
    if (cut > 0) log.warn({ open: cut }, 'grace period over; closing the remaining tunnels');
  }

  private admit(context: AcceptContext): AcceptDecision {
    if (this.draining) return { statusCode: 503, statusDescription: 'listener is shutting down' };
    const arc = this.options.arc?.admit(context.connectHeaders);
    if (arc !== undefined && arc !== true) return arc;
    const limit = this.options.slots.limit;
    if (limit > 0 && this.lifecycle.size >= limit + Math.max(MIN_REFUSAL_HEADROOM, limit)) {
      return { statusCode: 503, statusDescription: 'listener at capacity' };
    }
    return true;
  }

  private serve(stream: HybridConnectionStream): void {
    stream.on('error', () => undefined);
    if (this.draining) {
      stream.destroy();
      return;
    }
    const { slots, firstMessageTimeoutMs } = this.options;
    const { aztunnel, azbridge: serveAzbridge } = this;
    const connection = trackAccepted(this.lifecycle, stream, { hyco: this.listener.connection.entityPath ?? '' });
    // The slot is taken at accept, so connections that have not said what they want count too. One
    // that finds none is still served far enough to be refused in its own protocol.
    slots.tryAcquire(stream);
    stream.once('close', () => slots.release(stream));
    const azbridge: ProtocolHandler = (s, first, c) => (slots.tryAcquire(s) ? serveAzbridge(s, first, c) : this.refuseAzbridgeAtCapacity(s, c));
    const { arc } = this.options;
    const served = arc?.claims(stream) ? arc.serve(stream, connection) : dispatchConnection(stream, { aztunnel, azbridge }, connection, { firstMessageTimeoutMs, mux: this.mux });
    served.then(
      () => {
        if (!connection.isEnded) connection.end({ end: 'closed' });
      },
      (err: unknown) => {
        connection.end({ end: 'local-error', reason: `connection handler failed: ${(err as Error).message}` });
        stream.destroy();
      },
    );
  }

  /** An azbridge-style sender beyond --max-connections: `00 00 FD` with the reason, then close. */
  private async refuseAzbridgeAtCapacity(stream: HybridConnectionStream, connection: TrackedConnection): Promise<void> {
    const limit = this.options.slots.limit;
    connection.end({ end: 'at-capacity', reason: `azbridge-style sender refused: listener at capacity (--max-connections ${limit})` });
    try {
      await sendRelayMessage(stream, encodePreambleReply({ kind: 'target-unreachable', reason: `listener at capacity (--max-connections ${limit})` }));
    } catch {
      // The sender is gone; nothing left to tell it.
    }
    closeQuietly(stream);
  }

}
