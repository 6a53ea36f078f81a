import type { IncomingMessage, ServerResponse } from 'node:http';
import { formatEndpoint } from '../../protocol/relay-endpoint.js';
import { secretMatcher } from '../../util/same-secret.js';
import { sendRelayError } from '../http-errors.js';
import { MANAGEMENT_PREFIX } from '../management-api.js';
import { HttpError, readJson, send } from '../management-http.js';
import type { NamespaceLimits } from '../namespace-model.js';
import { StoreError } from '../namespace-store.js';
import type { RelayServer } from '../relay-server.js';
import { headerValue } from '../request-url.js';
import { CatalogFullError } from './namespace-catalog.js';
import type { NamespaceHost } from './namespace-host.js';
import { namespaceNameProblem } from './namespace-name.js';

const ADMIN_PATH = `${MANAGEMENT_PREFIX}/namespaces`;

/** Quotas a namespace may be created with, and the largest value each may take. */
const LIMIT_FIELDS: Record<keyof NamespaceLimits, number> = {
  maxConnections: 1_000_000,
  maxListenersPerHyco: 1000,
  maxHybridConnections: 100_000,
  maxRulesPerScope: 12,
};

export interface AdminContext {
  host: NamespaceHost;
  server: RelayServer;
  /** The server-level admin credential (undefined: the admin API is off). */
  adminKey: string | undefined;
}

/** Requests of the server-level admin API: `/$hybridge/v1/namespaces[/{name}]` on the relay's own address. */
export function isAdminRequest(url: string): boolean {
  const path = url.replace(/\?.*$/, '');
  return path === ADMIN_PATH || path.startsWith(`${ADMIN_PATH}/`);
}

/**
 * The admin API behind `hybridge namespace create|list|show|delete`:
 *   GET /namespaces, PUT|GET|DELETE /namespaces/{name}
 * with `Authorization: Bearer {admin key}`, a credential of the server, never of a namespace: no
 * namespace's key opens it, and the admin key opens no namespace.
 */
export async function handleAdminRequest(ctx: AdminContext, req: IncomingMessage, res: ServerResponse, url: string): Promise<void> {
  try {
    if (ctx.adminKey === undefined) throw new HttpError(404, 'NotFound', 'hosted namespaces are off on this relay: start `hybridge server` with --admin-key-file');
    const presented = /^Bearer[ \t]+(\S+)\s*$/i.exec(headerValue(req, 'authorization') ?? '')?.[1];
    if (presented === undefined || !secretMatcher(ctx.adminKey)(presented)) {
      return ctx.server.refuseQuietly(req, () => sendRelayError(res, 401, 'Unauthorized', 'the admin API needs the server\'s admin key (Authorization: Bearer); namespace keys do not open it'));
    }
    const segments = url.replace(/\?.*$/, '').slice(ADMIN_PATH.length).split('/').filter((s) => s.length > 0);
    if (segments.length > 1) throw new HttpError(404, 'NotFound', 'unknown admin resource');
    const method = req.method ?? 'GET';
    if (segments.length === 0) {
      if (method !== 'GET') throw new HttpError(405, 'MethodNotAllowed', `${method} is not allowed here`);
      return send(res, 200, [...ctx.server.namespaces.values()].filter((ns) => !ns.isDefault).map((ns) => namespaceView(ctx.server, ns.name)));
    }
    const name = decodeName(segments[0]!);
    const problem = namespaceNameProblem(name);
    if (problem) throw new HttpError(400, 'BadRequest', problem);
    const key = name.toLowerCase();
    switch (method) {
      case 'PUT': {
        const limits = limitsFrom(await readJson(req));
        const created = await ctx.host.create(key, limits);
        if (!created) throw new HttpError(409, 'Conflict', `namespace "${key}" already exists`);
        return send(res, 201, { ...namespaceView(ctx.server, key), rootConnectionString: created.rootConnectionString });
      }
      case 'GET': {
        const ns = ctx.server.namespaces.get(key);
        if (!ns || ns.isDefault) throw new HttpError(404, 'NotFound', `namespace "${key}" does not exist`);
        return send(res, 200, { ...namespaceView(ctx.server, key), hybridConnections: ns.store.hybridConnections().length, listeners: ns.directory.localChannels().length, connections: ns.connections });
      }
      case 'DELETE': {
        const closed = await ctx.host.delete(key);
        if (closed === undefined) throw new HttpError(404, 'NotFound', `namespace "${key}" does not exist`);
        return send(res, 200, { name: key, deleted: true, closedConnections: closed });
      }
      default:
        throw new HttpError(405, 'MethodNotAllowed', `${method} is not allowed here`);
    }
  } catch (err) {
    if (err instanceof HttpError) return sendRelayError(res, err.status, err.code, err.message);
    if (err instanceof CatalogFullError) return sendRelayError(res, 409, 'QuotaExceeded', err.message);
    if (err instanceof StoreError) return sendRelayError(res, err.status, err.status === 503 ? 'ServiceUnavailable' : 'InternalError', err.message);
    return sendRelayError(res, 500, 'InternalError', 'the admin operation failed');
  }
}

function namespaceView(server: RelayServer, name: string) {
  const ns = server.namespaces.get(name);
  return {
    name,
    type: 'Microsoft.Relay/Namespaces',
    serviceBusEndpoint: formatEndpoint(server.endpointOf(name)),
    provisioningState: 'Succeeded',
    status: 'Active',
    createdAt: ns?.store.document.createdAt,
    limits: ns?.store.document.limits ?? {},
  };
}

function decodeName(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, 'BadRequest', 'malformed URL encoding in the path');
  }
}

function limitsFrom(body: Record<string, unknown>): NamespaceLimits | undefined {
  if (body.limits === undefined) return undefined;
  if (typeof body.limits !== 'object' || body.limits === null || Array.isArray(body.limits)) throw new HttpError(400, 'BadRequest', 'limits must be an object');
  const given = body.limits as Record<string, unknown>;
  const limits: NamespaceLimits = {};
  for (const [field, value] of Object.entries(given)) {
    if (!(field in LIMIT_FIELDS)) throw new HttpError(400, 'BadRequest', `unknown limit "${field.slice(0, 64)}"; limits are ${Object.keys(LIMIT_FIELDS).join(', ')}`);
    const max = LIMIT_FIELDS[field as keyof NamespaceLimits];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > max) throw new HttpError(400, 'BadRequest', `${field} must be a whole number from 1 to ${max}`);
    limits[field as keyof NamespaceLimits] = value;
  }
  return limits;
}
