import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { checkUpgradeRequest } from '../websocket/server-handshake.js';
import type { HostedNamespace } from './namespaces/hosted-namespace.js';
import { authorizeRelayedHttp } from './relayed-http-authorization.js';
import { parseRelayedTarget, rawSuffixAfter, splitQuery, type HcGesture } from './request-url.js';

export interface HttpAddressUpgradeContext {
  /** The namespace the upgrade is addressed to (its store, authorizer, broker and limits). */
  ns: HostedNamespace;
  /** Refuses the upgrade with an HTTP status (through the relay's failure throttle) and logs it. */
  refuse(status: number, reason: string, hyco: string, headers?: Record<string, string>): void;
  /** The upgrade's socket proved its token (or needs none): it passes the socket gate. */
  onAuthenticated(socket: Socket): void;
}

/**
 * A WebSocket upgrade on a hybrid connection's HTTP address (`ws(s)://relay/{hyco}/path?query`),
 * which Azure Relay refuses: authorized as relayed HTTP requests are (the hybrid connection's
 * RequiresClientAuthorization; a token in sb-hc-token, ServiceBusAuthorization or, when neither is
 * there, Authorization), then offered to a listener like a `$hc` sender: an `accept` whose address
 * keeps the path after the hybrid connection and the query (sb-hc-* taken out) and says
 * `sb-hc-via=http`, with the client's headers as connectHeaders. From there on it is a relayed
 * connection like any other (pairing, frame relay, limits, lifecycle, events).
 */
export async function relayHttpAddressUpgrade(ctx: HttpAddressUpgradeContext, req: IncomingMessage, socket: Socket, head: Buffer, url: string): Promise<void> {
  const target = parseRelayedTarget(url);
  if (!target) return ctx.refuse(400, 'malformed URL encoding in the request path', '');
  const { ns } = ctx;
  const match = ns.store.matchPath(target.path);
  if (!match) return ctx.refuse(404, `Endpoint does not exist: no hybrid connection matches "/${(target.path.split('/', 1)[0] ?? '').slice(0, 64)}"`, '');
  const entity = match.entity;
  const auth = await authorizeRelayedHttp(ns.authorizer, req, entity, target);
  if (!auth.ok) return ctx.refuse(auth.status, auth.reason, entity.name);
  const { grant, authorizationConsumed } = auth;
  if (socket.destroyed || !ns.live) return;
  ctx.onAuthenticated(socket);
  const problem = checkUpgradeRequest(req);
  if (problem) return ctx.refuse(400, problem.reason, entity.name, problem.headers);
  const full = ns.fullReason();
  if (full) return ctx.refuse(503, full, entity.name);
  const q = url.indexOf('?');
  const rawPath = q < 0 ? url : url.slice(0, q);
  const gesture: HcGesture = {
    action: 'connect',
    path: target.path,
    id: undefined,
    token: undefined,
    statusCode: undefined,
    statusDescription: undefined,
    appQuery: q < 0 ? '' : splitQuery(url.slice(q + 1)).rest.join('&'),
  };
  ns.broker.connect({
    req,
    socket,
    head,
    gesture,
    entity: entity.name,
    rawSuffix: rawSuffixAfter(rawPath, entity.name.split('/').length),
    grant,
    authorizationConsumed,
    viaHttpAddress: true,
  });
}
