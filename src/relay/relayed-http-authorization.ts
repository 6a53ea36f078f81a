import type { IncomingMessage } from 'node:http';
import type { AuthorizationCache } from './authorization-cache.js';
import { ANONYMOUS_GRANT, type Grant } from './authorizer.js';
import type { HybridConnection } from './namespace-model.js';
import { headerValue, type RelayedTarget } from './request-url.js';

export type RelayedHttpAuthorization = { ok: true; grant: Grant; authorizationConsumed: boolean } | { ok: false; status: number; reason: string };

/**
 * A request (or WebSocket upgrade) on a hybrid connection's HTTP address, authorized as Azure
 * does: only when the hybrid connection requires client authorization, with the token from
 * sb-hc-token, else ServiceBusAuthorization, else Authorization. An Authorization header that
 * carried the token is the relay's (`authorizationConsumed`): it is not passed on to the listener.
 */
export async function authorizeRelayedHttp(authorizer: AuthorizationCache, req: IncomingMessage, entity: HybridConnection, target: RelayedTarget): Promise<RelayedHttpAuthorization> {
  if (!entity.requiresClientAuthorization) return { ok: true, grant: ANONYMOUS_GRANT, authorizationConsumed: false };
  const sbHeader = headerValue(req, 'servicebusauthorization');
  const authHeader = headerValue(req, 'authorization');
  const result = await authorizer.authorize({ token: target.token ?? sbHeader ?? authHeader, entity: entity.name, right: 'Send' });
  if (!result.ok) return result;
  return { ok: true, grant: result.grant, authorizationConsumed: !target.token && !sbHeader && authHeader !== undefined };
}
