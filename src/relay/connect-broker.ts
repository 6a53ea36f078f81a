import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { encodeCommand, type AcceptCommand } from '../protocol/control-messages.js';
import { encodeEntityPath } from '../protocol/relay-endpoint.js';
import { HTTP_UPGRADE_PARAM, HTTP_UPGRADE_VALUE } from '../protocol/hybridge-extensions.js';
import { parseProtocolList } from '../protocol/websocket-handshake.js';
import type { RelayEventBus } from '../observability/events/event-bus.js';
import type { RelayEventName } from '../observability/events/relay-event.js';
import type { Logger } from '../util/logger.js';
import { acceptUpgrade, checkUpgradeRequest, rejectUpgrade } from '../websocket/server-handshake.js';
import { clientAgent } from './client-agent.js';
import { wantedPort } from './port-headers.js';
import { pickForPort } from './port-routing.js';
import { ANONYMOUS_GRANT, type Grant } from './authorizer.js';
import type { ClientAddress } from './client-address.js';
import type { ListenerChannel } from './listener-channel.js';
import type { ListenerDirectory, ListenerRef, PickCriteria } from './listener-directory.js';
import { parseListenerIdList } from './listener-registry.js';
import type { LogLimiter } from './log-limiter.js';
import type { RefusalContext } from './refusals.js';
import { PairedConnection } from './frame-relay.js';
import { rawHeaderMap, type HcGesture } from './request-url.js';
import { clearTimer } from '../util/clear-timer.js';

/** A sender waiting for a listener to come to its rendezvous address. */
interface PendingAccept {
  secret: string;
  entity: string;
  trackingId: string;
  /** When the sender's upgrade arrived (set-up latency runs from here to the pairing). */
  requestedAt: number;
  req: IncomingMessage;
  socket: Socket;
  head: Buffer;
  grant: Grant;
  command: AcceptCommand;
  target: ListenerRef | undefined;
  tried: Set<string>;
  criteria: PickCriteria;
  /** The port name the sender asked to be routed by (Hybridge-Port), when routing is on. */
  port: string | undefined;
  pathAndQuery: { path: string; query: string };
  timer: NodeJS.Timeout;
  /** Offers the sender to another listener when the chosen one stays silent. */
  handoffTimer?: NodeJS.Timeout;
  /** Reads the held socket while it waits, so that a sender who gives up is noticed at once. */
  onEarlyData: (chunk: Buffer) => void;
  viaHttpAddress: boolean;
}

/** A WebSocket client sends nothing before its 101; more than this while waiting is abuse. */
const MAX_EARLY_BYTES = 64 * 1024;

export interface SenderRequest {
  req: IncomingMessage;
  socket: Socket;
  head: Buffer;
  gesture: HcGesture;
  entity: string;
  /** The raw path segments after the entity name (sender's path suffix). */
  rawSuffix: string;
  grant: Grant;
  /** The sender's Authorization header carried its relay token: the listener does not get it. */
  authorizationConsumed?: boolean;
  /** The upgrade came to the hybrid connection's HTTP address (websocket-upgrade-relay.ts), not to `$hc`. */
  viaHttpAddress?: boolean;
}

/** A relayed WebSocket connection and who was admitted to it. */
export interface RelayedConnection {
  pair: PairedConnection;
  entity: string;
  senderGrant: Grant;
  listenerGrant: Grant;
  trackingId: string;
  /** The sender's client address (behind a load balancer, the real client's). */
  remote: ClientAddress;
  /** The client address the listener's rendezvous came from. */
  listenerRemote: string;
  /** The sender's Relay-User-Agent (or User-Agent), for the log. */
  senderAgent?: string;
  /** The listener that took it. */
  listenerId: string | undefined;
  /** When the sender's upgrade arrived. */
  requestedAt: number;
  /** A WebSocket upgrade on the HTTP address, not a `$hc` sender. */
  viaHttpAddress?: boolean;
}

/** Answers a handshake with an HTTP error (through the relay's failure throttle) and logs it. */
export type RefuseUpgrade = (req: IncomingMessage, socket: Socket, status: number, reason: string, context: RefusalContext) => void;

export interface ConnectBrokerOptions {
  directory: ListenerDirectory;
  log: Logger;
  /** Lifecycle steps (docs/operations.md, "Events"). */
  events?: RelayEventBus;
  /** Rate-limited lines for what every sender may cause (left early, rejected, handed on). */
  lines: LogLimiter;
  refuse: RefuseUpgrade;
  /** A listener's rendezvous socket proved its address: it counts as authenticated. */
  onAuthenticated(socket: Socket): void;
  /** The client a request is from (ClientAddresses.clientAddressOf): the accept's remoteEndpoint. */
  clientAddressOf(req: IncomingMessage): ClientAddress;
  /** Senders waiting for an accept, per hybrid connection; more are refused with 503. */
  maxPendingPerHyco: number;
  /** Bytes the relay may queue towards one leg beyond backpressure before the connection is closed 1008. */
  maxLegBufferedBytes: number;
  /** How long a sender waits for the listener to complete the rendezvous. */
  acceptTimeoutMs: number;
  /** Route senders that name a port (Hybridge-Port) to listeners serving it (port-routing.ts). */
  portRouting?: boolean;
  /**
   * A listener that has not come to the rendezvous after this long (frozen host, partition) is
   * passed over: the sender is offered to another listener too, and whichever comes first pairs.
   */
  handoffMs?: number;
  /** Base URL (ws[s]://host:port) for rendezvous addresses; by default the one the listener used. */
  publicBaseUrl?: string;
  onRelayed?(connection: RelayedConnection): void;
  onFinished?(connection: RelayedConnection): void;
}

/** Headers the listener must not see: the sender's credentials. */
const PRIVATE_HEADERS = new Set(['servicebusauthorization']);

/**
 * Pairs senders with listeners: a sender's upgrade is held while the chosen listener is sent an
 * `accept` with a single-use rendezvous address; when the listener opens it, both get their 101
 * and the relay copies frames between them. A listener that goes away before accepting hands the
 * sender on to another listener.
 */
export class ConnectBroker {
  private readonly pending = new Map<string, PendingAccept>();
  private readonly pendingPerHyco = new Map<string, number>();
  readonly relayed = new Set<RelayedConnection>();

  constructor(private readonly options: ConnectBrokerOptions) {}

  get pendingCount(): number {
    return this.pending.size;
  }

  connect(request: SenderRequest): void {
    const { req, socket, gesture, entity } = request;
    const port = this.options.portRouting ? wantedPort(req) : undefined;
    if (port instanceof Error) {
      this.options.refuse(req, socket, 400, port.message, { what: 'sender', fields: { hyco: entity } });
      return;
    }
    const hycoKey = entity.toLowerCase();
    const waiting = this.pendingPerHyco.get(hycoKey) ?? 0;
    if (waiting >= this.options.maxPendingPerHyco) {
      this.options.refuse(req, socket, 503, `ServerBusy: ${waiting} senders are already waiting for a listener of "${entity}"; try again later`, { what: 'sender', fields: { hyco: entity } });
      return;
    }
    this.pendingPerHyco.set(hycoKey, waiting + 1);
    const criteria: PickCriteria = {
      allowed: parseListenerIdList(req.headers['microsoft-relay-allowedlisteners']),
      disallowed: parseListenerIdList(req.headers['microsoft-relay-disallowedlisteners']),
    };
    const trackingId = gesture.id ?? randomUUID();
    const connectHeaders: Record<string, string> = {};
    for (const [name, value] of Object.entries(rawHeaderMap(req))) {
      const lower = name.toLowerCase();
      if (!PRIVATE_HEADERS.has(lower) && !(lower === 'authorization' && request.authorizationConsumed)) connectHeaders[name] = value;
    }
    const secret = randomBytes(16).toString('hex');
    const pending: PendingAccept = {
      secret,
      entity,
      trackingId,
      requestedAt: Date.now(),
      req,
      socket,
      head: request.head,
      grant: request.grant,
      command: {
        address: '',
        id: trackingId,
        connectHeaders,
        remoteEndpoint: this.options.clientAddressOf(req),
      },
      target: undefined,
      tried: new Set(),
      criteria,
      port,
      pathAndQuery: {
        path: `${encodeEntityPath(entity)}${request.rawSuffix ? '/' + request.rawSuffix : ''}`,
        query: gesture.appQuery,
      },
      viaHttpAddress: request.viaHttpAddress === true,
      timer: setTimeout(() => this.expire(secret), this.options.acceptTimeoutMs),
      onEarlyData: (chunk) => {
        // Kept for the pairing, in case a client does send early; a flood is cut off.
        pending.head = Buffer.concat([pending.head, chunk]);
        if (pending.head.length > MAX_EARLY_BYTES) socket.destroy();
      },
    };
    pending.timer.unref();
    this.pending.set(secret, pending);
    // Node leaves an upgraded socket unread; without reading it, a sender's FIN would go unnoticed
    // until the accept timeout, and a late listener would be paired with a dead socket.
    socket.on('data', pending.onEarlyData);
    socket.on('end', () => {
      if (this.pending.has(secret)) socket.destroy();
    });
    socket.on('close', () => {
      if (this.pending.has(secret)) {
        this.release(pending);
        this.options.lines.info({ hyco: entity, trackingId, event: 'SenderConnectionFailed' }, 'sender left before the listener accepted');
        this.options.events?.emit('SenderConnectionFailed', { role: 'sender', hyco: entity, trackingId, reason: 'the sender left before the listener accepted', logged: true });
      }
    });
    const none = port === undefined ? `No listener is connected to "${entity}" that can take this connection` : `No listener of "${entity}" serves port "${port.slice(0, 64)}"`;
    this.options.events?.emit('NewSenderRegistering', { role: 'sender', hyco: entity, trackingId, remote: this.options.clientAddressOf(req).address });
    void this.dispatchOrFail(pending, none);
  }

  /** A listener's control channel closed: connections it was offered but never took go elsewhere. */
  channelClosed(channel: ListenerChannel): void {
    for (const pending of this.pending.values()) {
      if (pending.target?.channel === channel) void this.dispatchOrFail(pending, `The listener of "${pending.entity}" went away before accepting`);
    }
  }

  /**
   * A control channel opened. When the same listener (same id) has an older channel here that
   * holds work it has not answered (a sender waiting on it, or a ping), that one is most likely
   * stuck: after a network cut its commands wait behind TCP's retransmission back-off, and a
   * hybridge listener opens a second channel to get around it. The older channel is demoted for
   * new work, and the senders waiting on it are offered to a responsive listener too (whichever
   * rendezvous comes first pairs).
   */
  channelOpened(channel: ListenerChannel): void {
    const id = channel.listenerId.toLowerCase();
    const sibling = (other: ListenerChannel | undefined): other is ListenerChannel =>
      other !== undefined && other !== channel && other.isOpen && other.listenerId.toLowerCase() === id && other.entity.toLowerCase() === channel.entity.toLowerCase();
    const waiting = [...this.pending.values()].filter((p) => sibling(p.target?.channel));
    const stuck = new Set(waiting.map((p) => p.target!.channel!));
    for (const other of this.options.directory.localChannels(channel.entity)) if (sibling(other) && other.conn.pingUnansweredSince > 0) stuck.add(other);
    if (stuck.size === 0) return;
    for (const other of stuck) other.markSilent();
    this.options.lines.info({ hyco: channel.entity, listener: channel.listenerId, stuck: stuck.size, waiting: waiting.length }, 'listener opened another control channel while an older one was not answering; moving work to it');
    for (const pending of waiting) void this.dispatchOrFail(pending, '', false);
  }

  /** The listener came to the rendezvous address (`sb-hc-action=accept`), to accept or to reject. */
  accept(req: IncomingMessage, socket: Socket, head: Buffer, gesture: HcGesture): void {
    const pending = gesture.id ? this.pending.get(gesture.id) : undefined;
    if (!pending || pending.socket.destroyed) {
      // Usually the sender left before its listener came (churn does this by the thousand). The
      // address is a 128-bit secret, so there is nothing to guess and nothing to slow down: answered
      // at once, outside the failure throttle, or a listener's rendezvous sockets would pile up
      // against its own address until the per-address limit locked it out.
      if (pending) this.release(pending);
      this.options.lines.info({ hyco: pending?.entity, remote: this.options.clientAddressOf(req).address }, 'rendezvous refused: it expired or was already used (the sender may have left)');
      rejectUpgrade(socket, 403, 'The rendezvous address is not valid: it expired or was already used');
      return;
    }
    this.release(pending);
    this.options.onAuthenticated(socket);
    if (pending.target) this.options.directory.noteResponsive(pending.target);

    if (gesture.statusCode !== undefined) {
      const code = Number(gesture.statusCode);
      const status = Number.isInteger(code) && code >= 400 && code <= 599 ? code : 400;
      const description = gesture.statusDescription || 'Rejected by the listener';
      rejectUpgrade(socket, 410, 'Gone: the connection was rejected');
      rejectUpgrade(pending.socket, status, description);
      const fields = { hyco: pending.entity, trackingId: pending.trackingId, listenerId: pending.target?.listenerId, status, reason: description };
      this.options.lines.info({ ...fields, event: 'ListenerRejectedConnection' }, 'listener rejected the connection');
      this.options.events?.emit('ListenerRejectedConnection', { role: 'sender', ...fields, logged: true });
      return;
    }
    const problem = checkUpgradeRequest(req);
    if (problem) {
      rejectUpgrade(socket, 400, problem.reason, { headers: problem.headers });
      rejectUpgrade(pending.socket, 502, 'The listener failed the rendezvous handshake');
      return;
    }
    const offered = parseProtocolList(pending.req.headers['sec-websocket-protocol'] as string | undefined);
    const requested = parseProtocolList(req.headers['sec-websocket-protocol'] as string | undefined)[0];
    // A `$hc` sender gets the first protocol it offered when the listener named none (as Azure does);
    // an upgrade on the HTTP address gets exactly what the listener (its target, behind -H) chose.
    const chosen = requested && offered.includes(requested) ? requested : undefined;
    const senderProtocol = pending.viaHttpAddress ? chosen : (chosen ?? offered[0]);
    acceptUpgrade(req, socket, requested);
    acceptUpgrade(pending.req, pending.socket, senderProtocol);
    socket.setNoDelay(true);
    pending.socket.setNoDelay(true);

    const connection: RelayedConnection = {
      entity: pending.entity,
      senderGrant: pending.grant,
      listenerGrant: pending.target?.grant ?? ANONYMOUS_GRANT,
      trackingId: pending.trackingId,
      remote: pending.command.remoteEndpoint!,
      listenerRemote: this.options.clientAddressOf(req).address,
      senderAgent: clientAgent(pending.req),
      listenerId: pending.target?.listenerId,
      requestedAt: pending.requestedAt,
      ...(pending.viaHttpAddress && { viaHttpAddress: true }),
      pair: undefined as unknown as PairedConnection,
    };
    connection.pair = new PairedConnection(pending.socket, socket, this.options.maxLegBufferedBytes, {
      onFinished: () => {
        this.relayed.delete(connection);
        this.options.onFinished?.(connection);
      },
      onOverBudget: (leg, buffered) =>
        this.options.lines.warn({ hyco: connection.entity, trackingId: connection.trackingId, leg, buffered }, 'relayed connection closed: a leg did not read what the relay had to send it (--max-leg-buffer)'),
    });
    this.relayed.add(connection);
    connection.pair.start(pending.head, head);
    this.options.onRelayed?.(connection);
  }

  /** Pings idle relayed connections and drops those whose peers stopped answering. */
  sweepIdle(intervalMs: number): void {
    const now = Date.now();
    for (const c of this.relayed) {
      const idle = now - c.pair.lastActivityAt;
      if (idle > intervalMs * 3) c.pair.destroy();
      else if (idle >= intervalMs) c.pair.ping();
    }
  }

  /** Refuses every waiting sender (shutdown). */
  abortAll(status: number, reason: string): void {
    for (const pending of [...this.pending.values()]) this.fail(pending, status, reason);
  }

  /**
   * Offers the sender to the next listener. When no listener is left to try it is refused (404),
   * unless this is a hand-on from a silent listener: then it keeps waiting for that one.
   */
  private async dispatchOrFail(pending: PendingAccept, reason: string, failIfNone = true): Promise<void> {
    const directory = this.options.directory;
    try {
      for (;;) {
        const target = await pickForPort(directory, pending.entity, { ...pending.criteria, exclude: pending.tried }, pending.port);
        if (!this.pending.has(pending.secret)) return;
        if (!target) return failIfNone ? this.fail(pending, 404, reason) : undefined;
        pending.tried.add(target.key);
        pending.target = target;
        const base = target.channel && !this.options.publicBaseUrl ? target.channel.baseUrl : this.options.publicBaseUrl!;
        const query = pending.pathAndQuery.query ? `${pending.pathAndQuery.query}&` : '';
        const via = pending.viaHttpAddress ? `&${HTTP_UPGRADE_PARAM}=${HTTP_UPGRADE_VALUE}` : '';
        pending.command.address = `${base}/$hc/${pending.pathAndQuery.path}?${query}sb-hc-action=accept&sb-hc-id=${pending.secret}${via}`;
        const redispatch = () => {
          if (this.pending.has(pending.secret)) void this.dispatchOrFail(pending, `The listener of "${pending.entity}" went away before accepting`);
        };
        if (await directory.deliver(target, encodeCommand('accept', pending.command), pending.secret, redispatch)) {
          this.options.events?.emit('ListenerAcceptingConnection', { role: 'sender', hyco: pending.entity, trackingId: pending.trackingId, listenerId: target.listenerId });
          this.armHandoff(pending);
          return;
        }
      }
    } catch (err) {
      if (this.pending.has(pending.secret)) this.fail(pending, 503, `The relay cannot route this connection now: ${(err as Error).message}`);
    }
  }

  private armHandoff(pending: PendingAccept): void {
    clearTimer(pending.handoffTimer);
    pending.handoffTimer = setTimeout(() => {
      if (!this.pending.has(pending.secret)) return;
      if (pending.target) this.options.directory.noteSilent(pending.target);
      this.options.lines.info({ hyco: pending.entity, trackingId: pending.trackingId, listenerId: pending.target?.listenerId }, 'listener silent; offering the connection to another listener as well');
      void this.dispatchOrFail(pending, '', false);
    }, this.options.handoffMs ?? 5000);
    pending.handoffTimer.unref();
  }

  private expire(secret: string): void {
    const pending = this.pending.get(secret);
    if (pending) this.fail(pending, 504, `The listener of "${pending.entity}" did not accept the connection in time`, 'ListenerAcceptingConnectionTimeout');
  }

  /** The sender no longer waits: forget it and stop reading its socket on its behalf. */
  private release(pending: PendingAccept): void {
    if (!this.pending.delete(pending.secret)) return;
    const key = pending.entity.toLowerCase();
    const waiting = (this.pendingPerHyco.get(key) ?? 1) - 1;
    if (waiting > 0) this.pendingPerHyco.set(key, waiting);
    else this.pendingPerHyco.delete(key);
    this.options.directory.settle(pending.secret);
    clearTimer(pending.timer);
    clearTimer(pending.handoffTimer);
    pending.socket.off('data', pending.onEarlyData);
  }

  private fail(pending: PendingAccept, status: number, reason: string, event?: RelayEventName): void {
    this.release(pending);
    this.options.refuse(pending.req, pending.socket, status, reason, { what: 'sender', fields: { hyco: pending.entity, trackingId: pending.trackingId, listenerId: pending.target?.listenerId }, event });
  }
}
