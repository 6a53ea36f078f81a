import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { checkUpgradeRequest } from '../websocket/server-handshake.js';
import type { AuthorizationCache } from './authorization-cache.js';
import { ANONYMOUS_GRANT } from './authorizer.js';
import type { ConnectBroker } from './connect-broker.js';
import type { NamespaceStore } from './namespace-store.js';
import { headerValue, parseRelayedTarget, rawSuffixAfter, splitQuery, type HcGesture } from './request-url.js';

export interface HttpAddressUpgradeContext {
  store: NamespaceStore;
  authorizer: AuthorizationCache;
  broker: ConnectBroker;
  /** Refuses the upgrade with an HTTP status (through the relay's failure throttle) and logs it. */
  refuse(status: number, reason: string, hyco: string, headers?: Record<string, string>): void;
  /** The upgrade's socket proved its token (or needs none): it passes the socket gate. */
  onAuthenticated(socket: Socket): void;
  /** Whether the namespace has room for one more connection on this node. */
  hasRoom(): boolean;
  namespaceFullReason(): string;
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
  const match = ctx.store.matchPath(target.path);
  if (!match) return ctx.refuse(404, `Endpoint does not exist: no hybrid connection matches "/${(target.path.split('/', 1)[0] ?? '').slice(0, 64)}"`, '');
  const entity = match.entity;
  const sbHeader = headerValue(req, 'servicebusauthorization');
  const authHeader = headerValue(req, 'authorization');
  let grant = ANONYMOUS_GRANT;
  let authorizationConsumed = false;
  if (entity.requiresClientAuthorization) {
    const token = target.token ?? sbHeader ?? authHeader;
    authorizationConsumed = !target.token && !sbHeader && authHeader !== undefined;
    const result = await ctx.authorizer.authorize({ token, entity: entity.name, right: 'Send' });
    if (!result.ok) return ctx.refuse(result.status, result.reason, entity.name);
    grant = result.grant;
  }
  if (socket.destroyed) return;
  ctx.onAuthenticated(socket);
  const problem = checkUpgradeRequest(req);
  if (problem) return ctx.refuse(400, problem.reason, entity.name, problem.headers);
  if (!ctx.hasRoom()) return ctx.refuse(503, ctx.namespaceFullReason(), entity.name);
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
  ctx.broker.connect({
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
