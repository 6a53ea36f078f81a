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
import { dispatchConnection, LISTENER_MAX_AUTHORIZATION_FAILURES, type ProtocolHandler } from '../forwarding/listener-end.js';
import { MuxListener } from '../mux/mux-listener.js';
import { encodePreambleReply } from '../protocol/azbridge-preamble.js';
import { formatEndpoint } from '../protocol/relay-endpoint.js';
import type { Logger } from '../util/logger.js';
import type { ConnectionSlots } from './connection-slots.js';
import { closeQuietly, sendRelayMessage } from './stream-messages.js';

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
  private readonly live = new Set<HybridConnectionStream>();
  private draining = false;
  private wasOnline = false;
  /** Streams of multiplexed sessions are served like connections of their own (slots, drain, logs). */
  private readonly mux: MuxListener;

  constructor(private readonly options: TunnelListenerOptions) {
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
    const where = { hyco: c.entityPath, relay: formatEndpoint(c.endpoint), listener_id: options.listenerId };
    const log = options.log;
    this.listener.on('connecting', () => log.debug(where, 'connecting control channel'));
    this.listener.on('stalled', (silentMs) => log.warn({ ...where, silentMs }, 'control channel not answering; opening another one beside it'));
    this.listener.on('online', () => {
      log.info({ ...where, reconnected: this.wasOnline || undefined }, 'listener online');
      this.wasOnline = true;
    });
    this.listener.on('error', (error) => log.warn({ hyco: c.entityPath, reason: error.message }, 'relay problem'));
    this.listener.on('offline', (error) => {
      if (!error) return;
      log.error({ hyco: c.entityPath, reason: error.message }, 'listener stopped');
      options.onFatal?.(error);
    });
    this.listener.on('connection', (stream) => this.serve(stream));
  }

  /** Open connections (tunnels, and connections still being answered). */
  get liveCount(): number {
    return this.live.size;
  }

  get isOnline(): boolean {
    return this.listener.isOnline;
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
    const log = this.options.log;
    if (this.live.size > 0) {
      log.info({ open: this.live.size, graceMs }, 'no longer accepting; waiting for open tunnels to finish');
      await this.waitForIdle(graceMs);
    }
    if (this.live.size > 0) {
      log.warn({ open: this.live.size }, 'grace period over; closing the remaining tunnels');
      for (const stream of this.live) stream.destroy();
    }
  }

  private admit(context: AcceptContext): AcceptDecision {
    if (this.draining) return { statusCode: 503, statusDescription: 'listener is shutting down' };
    const arc = this.options.arc?.admit(context.connectHeaders);
    if (arc !== undefined && arc !== true) return arc;
    const limit = this.options.slots.limit;
    if (limit > 0 && this.live.size >= limit + Math.max(MIN_REFUSAL_HEADROOM, limit)) {
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
    const { aztunnel, slots, firstMessageTimeoutMs, log } = this.options;
    this.live.add(stream);
    // The slot is taken at accept, so connections that have not said what they want count too. One
    // that finds none is still served far enough to be refused in its own protocol.
    slots.tryAcquire(stream);
    stream.once('close', () => {
      this.live.delete(stream);
      slots.release(stream);
    });
    const azbridge: ProtocolHandler = (s, first) => (slots.tryAcquire(s) ? this.options.azbridge(s, first) : this.refuseAzbridgeAtCapacity(s));
    const { arc } = this.options;
    const served = arc?.claims(stream) ? arc.serve(stream) : dispatchConnection(stream, { aztunnel, azbridge }, { firstMessageTimeoutMs, log, mux: this.mux });
    served.catch((err: unknown) => {
      log.error({ conn: stream.trackingId, reason: (err as Error).message }, 'connection handler failed');
      stream.destroy();
    });
  }

  /** An azbridge-style sender beyond --max-connections: `00 00 FD` with the reason, then close. */
  private async refuseAzbridgeAtCapacity(stream: HybridConnectionStream): Promise<void> {
    const limit = this.options.slots.limit;
    this.options.log.warn({ conn: stream.trackingId, limit }, 'azbridge-style sender refused: listener at capacity (--max-connections)');
    try {
      await sendRelayMessage(stream, encodePreambleReply({ kind: 'target-unreachable', reason: `listener at capacity (--max-connections ${limit})` }));
    } catch {
      // The sender is gone; nothing left to tell it.
    }
    closeQuietly(stream);
  }

  private waitForIdle(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const deadline = Date.now() + timeoutMs;
      const check = () => {
        if (this.live.size === 0 || Date.now() >= deadline) return resolve();
        setTimeout(check, Math.min(100, Math.max(1, deadline - Date.now())));
      };
      check();
    });
  }
}
