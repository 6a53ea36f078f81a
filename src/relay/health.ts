import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthResult } from './authorizer.js';
import { headerValue } from './request-url.js';

export const HEALTH_PATH = '/$hybridge/health';

export function isHealthRequest(url: string): boolean {
  return url === HEALTH_PATH || url.startsWith(`${HEALTH_PATH}?`);
}

export interface HealthContext {
  draining: boolean;
  /** Checks a Manage token for the namespace. */
  authorizeManage(token: string): AuthResult;
  /** What a namespace manager may see: node id, listeners, connections. */
  details(): Record<string, unknown>;
  /** A token that did not verify: answered through the failure throttle. */
  onBadToken(answer: () => void): void;
}

/**
 * `GET /$hybridge/health`: 200 `{"status":"ok"}` or 503 `{"status":"draining"}` for anyone (a
 * load balancer's liveness check); the node's id, listener and connection counts only for a
 * namespace-level Manage token (ServiceBusAuthorization or Authorization header).
 */
export function answerHealth(ctx: HealthContext, req: IncomingMessage, res: ServerResponse): void {
  const status = ctx.draining ? 'draining' : 'ok';
  const answer = (body: Record<string, unknown>) => {
    const text = JSON.stringify(body);
    res.writeHead(ctx.draining ? 503 : 200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' }).end(text);
  };
  const token = headerValue(req, 'servicebusauthorization') ?? headerValue(req, 'authorization');
  if (!token) return answer({ status });
  const auth = ctx.authorizeManage(token);
  if (auth.ok && auth.grant.scope === undefined) return answer({ status, ...ctx.details() });
  if (!auth.ok) return ctx.onBadToken(() => answer({ status }));
  answer({ status });
}

