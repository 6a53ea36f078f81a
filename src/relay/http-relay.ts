import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { encodeCommand } from '../protocol/control-messages.js';
import { isConnectionLevelHeader } from '../protocol/http-headers.js';
import { encodeEntityPath } from '../protocol/relay-endpoint.js';
import type { Logger } from '../util/logger.js';
import { WsConnection, type ConnectionOptions } from '../websocket/connection.js';
import { acceptUpgrade, checkUpgradeRequest, rejectUpgrade } from '../websocket/server-handshake.js';
import type { RefuseUpgrade } from './connect-broker.js';
import { PendingHttpRequest, type RelayedHttpRequest } from './http-exchange.js';
import type { ListenerChannel, ResponseSink } from './listener-channel.js';
import type { ListenerDirectory, PickCriteria } from './listener-directory.js';
import { parseListenerIdList } from './listener-registry.js';
import { rawHeaderMap, type HcGesture } from './request-url.js';

export interface HttpRelayOptions {
  directory: ListenerDirectory;
  log: Logger;
  /** 60 s in the protocol: until the response starts, and the longest pause inside a response body. */
  responseTimeoutMs: number;
  /** Bodies up to this size go inline on the control channel (64 KiB in the protocol). */
  inlineBodyLimit: number;
  /** How long to wait for a small body to arrive before switching to the rendezvous path. */
  inlineWaitMs: number;
  /** A listener that has not opened the request rendezvous after this long is demoted for new work. */
  silenceMs: number;
  publicBaseUrl?: string;
  /** How the relay speaks on a request rendezvous: message limits, UTF-8, write budget. */
  rendezvousConnection: Omit<ConnectionOptions, 'role'>;
  refuse: RefuseUpgrade;
  /** Refuses a request with an HTTP error (through the relay's failure throttle). */
  refuseRequest(req: IncomingMessage, res: ServerResponse, status: number, code: string, message: string): void;
  /** A listener's rendezvous socket proved its address: it counts as authenticated. */
  onAuthenticated(socket: Socket): void;
}

export type { RelayedHttpRequest } from './http-exchange.js';

export class HttpRelay {
  private readonly bySecret = new Map<string, PendingHttpRequest>();
  private readonly byRequestId = new Map<string, PendingHttpRequest>();

  constructor(private readonly options: HttpRelayOptions) {}

  get pendingCount(): number {
    return this.bySecret.size;
  }

  handle(request: RelayedHttpRequest): void {
    void this.route(request).catch((err: Error) => this.options.refuseRequest(request.req, request.res, 503, 'ServiceUnavailable', `The relay cannot route this request now: ${err.message}`));
  }

  private async route(request: RelayedHttpRequest): Promise<void> {
    const { req, res, entity } = request;
    const criteria: PickCriteria = {
      allowed: parseListenerIdList(req.headers['microsoft-relay-allowedlisteners']),
      disallowed: parseListenerIdList(req.headers['microsoft-relay-disallowedlisteners']),
    };
    // Hold the body until we know where it goes.
    req.pause();
    const target = await this.options.directory.pick(entity, criteria);
    if (!target) {
      const filtered = criteria.allowed || criteria.disallowed;
      this.options.refuseRequest(
        req,
        res,
        filtered ? 404 : 502,
        filtered ? 'NoMatchingListener' : 'NoListener',
        filtered ? 'None of the connected listeners meet the AllowedListeners/DisallowedListeners criteria' : `No listener is connected to "${entity}"`,
      );
      return;
    }
    const pending = new PendingHttpRequest(request, target, criteria, this, this.options);
    pending.tried.add(target.key);
    this.bySecret.set(pending.secret, pending);
    this.byRequestId.set(pending.requestId, pending);
    const base = target.channel && !this.options.publicBaseUrl ? target.channel.baseUrl : this.options.publicBaseUrl!;
    pending.command = {
      address: `${base}/$hc/${encodeEntityPath(entity)}?sb-hc-action=request&sb-hc-id=${pending.secret}`,
      id: pending.requestId,
      requestTarget: request.requestTarget,
      method: req.method ?? 'GET',
      remoteEndpoint: { address: req.socket.remoteAddress ?? '', port: req.socket.remotePort ?? 0 },
      requestHeaders: forwardedRequestHeaders(req, request.authorizationConsumed),
    };
    const channel = target.channel;
    // Inline delivery needs the listener's control channel on this node; otherwise the listener comes
    // here over a request rendezvous, so no request or response byte crosses between relay nodes.
    if (!channel) return this.sendAddressOnly(pending);
    if (!pending.hasBody) {
      // A channel that cannot take it (over its budget) is one the request never reached: it goes elsewhere.
      if (channel.send(encodeCommand('request', { ...pending.command, body: false }))) pending.deliveredInline = true;
      else this.listenerLeft(pending);
      return;
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared <= this.options.inlineBodyLimit) {
      pending.collectSmallBody((inline) => {
        if (pending.finished) return;
        if (inline && pending.target.channel?.send(encodeCommand('request', { ...pending.command, body: true }), pending.inlineBody())) {
          pending.deliveredInline = true;
        } else {
          void this.sendAddressOnly(pending);
        }
      });
      req.resume();
      return;
    }
    await this.sendAddressOnly(pending);
  }

  /** A listener opened `sb-hc-action=request` (to receive a large request, or to send a large response). */
  rendezvous(req: IncomingMessage, socket: Socket, head: Buffer, gesture: HcGesture): void {
    const pending = gesture.id ? this.bySecret.get(gesture.id) : undefined;
    if (!pending || pending.finished || pending.rendezvous) {
      this.options.refuse(req, socket, 403, 'The request rendezvous address is not valid: it expired or was already used', { what: 'request rendezvous' });
      return;
    }
    this.options.onAuthenticated(socket);
    const problem = checkUpgradeRequest(req);
    if (problem) {
      rejectUpgrade(socket, 400, problem.reason, { headers: problem.headers });
      return;
    }
    acceptUpgrade(req, socket);
    socket.setNoDelay(true);
    pending.attachRendezvous(new WsConnection(socket, { ...this.options.rendezvousConnection, role: 'server' }), head);
  }

  /** Routes a `response` that arrived on a control channel. */
  responseSink(channel: ListenerChannel, requestId: string): ResponseSink | undefined {
    const pending = this.byRequestId.get(requestId);
    return pending && pending.target.channel === channel && !pending.finished ? pending : undefined;
  }

  /** A control channel closed: requests it had that never reached a rendezvous cannot complete. */
  channelClosed(channel: ListenerChannel): void {
    for (const pending of [...this.bySecret.values()]) {
      if (pending.target.channel === channel) this.listenerLeft(pending);
    }
  }

  /**
   * The listener a request was offered to is gone. A request it never saw (address-only, no
   * rendezvous yet) goes to another listener that meets the sender's criteria; otherwise 502.
   */
  private listenerLeft(pending: PendingHttpRequest): void {
    if (pending.finished || pending.rendezvous) return;
    if (pending.deliveredInline) return pending.onAbort('the listener went away');
    void this.options.directory
      .pick(pending.request.entity, { ...pending.criteria, exclude: pending.tried })
      .then((next) => {
        if (pending.finished || pending.rendezvous) return;
        if (!next) return pending.onAbort('the listener went away');
        pending.target = next;
        pending.tried.add(next.key);
        return this.sendAddressOnly(pending);
      })
      .catch(() => pending.onAbort('the listener went away'));
  }

  abortAll(reason: string): void {
    for (const pending of [...this.bySecret.values()]) pending.onAbort(reason);
  }

  forget(pending: PendingHttpRequest): void {
    this.bySecret.delete(pending.secret);
    this.byRequestId.delete(pending.requestId);
    this.options.directory.settle(pending.secret);
  }

  private async sendAddressOnly(pending: PendingHttpRequest): Promise<void> {
    // Address-only form: method and body are both left out, which is how .NET and hyco-https detect it.
    const json = encodeCommand('request', { address: pending.command.address, id: pending.command.id });
    const delivered = await this.options.directory.deliver(pending.target, json, pending.secret, () => this.listenerLeft(pending));
    if (!delivered) this.listenerLeft(pending);
    else pending.watchForSilence();
  }
}

/** The sender's headers as the listener gets them: no connection-level headers, no relay credentials. */
function forwardedRequestHeaders(req: IncomingMessage, authorizationConsumed: boolean): Record<string, string> {
  const connectionTokens = new Set(
    String(req.headers.connection ?? '')
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter(Boolean),
  );
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(rawHeaderMap(req))) {
    const lower = name.toLowerCase();
    if (isConnectionLevelHeader(lower) || connectionTokens.has(lower) || lower === 'servicebusauthorization') continue;
    if (lower === 'authorization' && authorizationConsumed) continue;
    out[name] = value;
  }
  return out;
}
