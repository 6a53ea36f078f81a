import type { IncomingMessage, ServerResponse } from 'node:http';
import { formatConnectionString } from '../protocol/connection-string.js';
import type { RelayEndpoint } from '../protocol/relay-endpoint.js';
import { audiencePath, parseSasToken } from '../protocol/sas-token.js';
import { verifyRuleKeys, type AuthResult } from './authorizer.js';
import { sendRelayError } from './http-errors.js';
import { claimedRule, describeOperation, type ManagementOperationRecord } from './management-operation.js';
import { normalizeRights, type AuthorizationRule, type HybridConnection } from './namespace-model.js';
import { StoreError, type NamespaceStore, type RuleScope } from './namespace-store.js';
import { headerValue } from './request-url.js';

/** Management API prefix; `$` cannot appear in a hybrid connection name, so it never shadows one. */
export const MANAGEMENT_PREFIX = '/$hybridge/v1';

export interface ManagementContext {
  store: NamespaceStore;
  /** Listeners connected to an entity (across the cluster when there is one). */
  listenerCount(entity: string): Promise<number> | number;
  /** The endpoint written into connection strings. */
  endpoint: RelayEndpoint;
  /** Checks a Manage token for the namespace (entity undefined) or one hybrid connection. */
  authorizeManage(token: string | undefined, entity: string | undefined): AuthResult;
  /** Every request once answered, for the audit log (names only, never a key). */
  onOperation?(record: ManagementOperationRecord): void;
  /** Sends the answer to a failed authentication (through the relay's failure throttle). */
  onAuthFailure(answer: () => void): void;
}

const MAX_BODY = 16 * 1024;

export function hycoView(entity: HybridConnection, listenerCount: number) {
  return {
    name: entity.name,
    type: 'Microsoft.Relay/Namespaces/HybridConnections',
    requiresClientAuthorization: entity.requiresClientAuthorization,
    userMetadata: entity.userMetadata,
    listenerCount,
    createdAt: entity.createdAt,
    updatedAt: entity.updatedAt,
  };
}

export function ruleView(rule: AuthorizationRule, scope: RuleScope) {
  return {
    name: rule.keyName,
    rights: rule.rights,
    type: scope === undefined ? 'Microsoft.Relay/Namespaces/AuthorizationRules' : 'Microsoft.Relay/Namespaces/HybridConnections/AuthorizationRules',
  };
}

export function keysView(rule: AuthorizationRule, scope: RuleScope, endpoint: RelayEndpoint) {
  const cs = (key: string) => formatConnectionString({ endpoint, sharedAccessKeyName: rule.keyName, sharedAccessKey: key, entityPath: scope });
  return {
    keyName: rule.keyName,
    primaryConnectionString: cs(rule.primaryKey),
    primaryKey: rule.primaryKey,
    secondaryConnectionString: cs(rule.secondaryKey),
    secondaryKey: rule.secondaryKey,
  };
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The caller did not prove the right to do this: answered through the failure throttle. */
    readonly authFailure = false,
  ) {
    super(message);
  }
}

/**
 * The REST API behind `hybridge hyco ...` and `hybridge namespace ...`:
 *   /hybridconnections[/{name}[/authorizationrules[/{rule}[/keys|/regeneratekeys]]]]
 *   /authorizationrules[/{rule}[/keys|/regeneratekeys]]
 * Names are one URL segment each (a '/' in a hybrid connection name is sent as %2F).
 */
export async function handleManagementRequest(ctx: ManagementContext, req: IncomingMessage, res: ServerResponse, rawPath: string): Promise<void> {
  if (ctx.onOperation) auditWhenAnswered(ctx.onOperation, req, res, rawPath);
  try {
    const segments = rawPath
      .split('/')
      .filter((s) => s.length > 0)
      .map((s) => {
        try {
          return decodeURIComponent(s);
        } catch {
          throw new HttpError(400, 'BadRequest', 'malformed URL encoding in the path');
        }
      });
    const method = req.method ?? 'GET';
    const token = headerValue(req, 'servicebusauthorization') ?? headerValue(req, 'authorization');
    const [root, name, sub, ruleName, action] = segments;

    if (root === 'hybridconnections') {
      const entity = name;
      const auth = ctx.authorizeManage(token, entity);
      if (!auth.ok) throw authFailure(ctx.store, auth, token, entity);
      if (entity === undefined) {
        if (auth.grant.scope !== undefined) throw new HttpError(403, 'Forbidden', 'listing hybrid connections needs a namespace-level Manage rule');
        if (method !== 'GET') throw new HttpError(405, 'MethodNotAllowed', `${method} is not allowed here`);
        const views = await Promise.all(ctx.store.hybridConnections().map(async (e) => hycoView(e, await ctx.listenerCount(e.name))));
        return send(res, 200, views);
      }
      if (sub === undefined) return await entityRoute(ctx, req, res, method, entity, auth.grant.scope === undefined);
      if (sub === 'authorizationrules') return await ruleRoute(ctx, req, res, method, entity, ruleName, action);
      throw new HttpError(404, 'NotFound', `unknown resource "${sub}"`);
    }
    if (root === 'authorizationrules') {
      const auth = ctx.authorizeManage(token, undefined);
      if (!auth.ok) throw authFailure(ctx.store, auth, token, undefined);
      return await ruleRoute(ctx, req, res, method, undefined, name, sub);
    }
    throw new HttpError(404, 'NotFound', 'unknown management resource');
  } catch (err) {
    if (err instanceof HttpError && err.authFailure) return ctx.onAuthFailure(() => sendRelayError(res, err.status, err.code, err.message));
    if (err instanceof HttpError) return sendRelayError(res, err.status, err.code, err.message);
    if (err instanceof StoreError) return sendRelayError(res, err.status, storeErrorCode(err.status), err.message);
    return sendRelayError(res, 500, 'InternalError', 'the management operation failed');
  }
}

async function entityRoute(ctx: ManagementContext, req: IncomingMessage, res: ServerResponse, method: string, name: string, namespaceManage: boolean): Promise<void> {
  switch (method) {
    case 'GET': {
      const entity = ctx.store.getHybridConnection(name);
      if (!entity) throw new HttpError(404, 'NotFound', `hybrid connection "${name}" does not exist`);
      return send(res, 200, hycoView(entity, await ctx.listenerCount(entity.name)));
    }
    case 'PUT': {
      // Create or update, as ARM's PUT (and so `az relay hyco create`) does: provisioning scripts can run twice.
      const body = await readJson(req);
      if (ctx.store.getHybridConnection(name)) {
        const entity = await ctx.store.updateHybridConnection(name, entityProps(body));
        return send(res, 200, hycoView(entity, await ctx.listenerCount(entity.name)));
      }
      if (!namespaceManage) throw new HttpError(403, 'Forbidden', 'creating a hybrid connection needs a namespace-level Manage rule');
      const entity = await ctx.store.createHybridConnection(name, entityProps(body));
      return send(res, 201, hycoView(entity, 0));
    }
    case 'PATCH': {
      const body = await readJson(req);
      const entity = await ctx.store.updateHybridConnection(name, entityProps(body));
      return send(res, 200, hycoView(entity, await ctx.listenerCount(entity.name)));
    }
    case 'DELETE':
      if (!namespaceManage) throw new HttpError(403, 'Forbidden', 'deleting a hybrid connection needs a namespace-level Manage rule');
      await ctx.store.deleteHybridConnection(name);
      return send(res, 204, undefined);
    default:
      throw new HttpError(405, 'MethodNotAllowed', `${method} is not allowed here`);
  }
}

async function ruleRoute(ctx: ManagementContext, req: IncomingMessage, res: ServerResponse, method: string, scope: RuleScope, ruleName: string | undefined, action: string | undefined): Promise<void> {
  if (ruleName === undefined) {
    if (method !== 'GET') throw new HttpError(405, 'MethodNotAllowed', `${method} is not allowed here`);
    return send(res, 200, ctx.store.rules(scope).map((r) => ruleView(r, scope)));
  }
  if (action === 'keys') {
    if (method !== 'GET' && method !== 'POST') throw new HttpError(405, 'MethodNotAllowed', `${method} is not allowed here`);
    return send(res, 200, keysView(ctx.store.getRule(scope, ruleName), scope, ctx.endpoint));
  }
  if (action === 'regeneratekeys') {
    if (method !== 'POST') throw new HttpError(405, 'MethodNotAllowed', `${method} is not allowed here`);
    const body = await readJson(req);
    const keyType = typeof body.keyType === 'string' ? body.keyType.toLowerCase() : '';
    if (keyType !== 'primarykey' && keyType !== 'secondarykey') throw new HttpError(400, 'BadRequest', 'keyType must be PrimaryKey or SecondaryKey');
    if (body.key !== undefined && typeof body.key !== 'string') throw new HttpError(400, 'BadRequest', 'key must be a string');
    const rule = await ctx.store.renewKey(scope, ruleName, keyType === 'primarykey' ? 'primary' : 'secondary', body.key as string | undefined);
    return send(res, 200, keysView(rule, scope, ctx.endpoint));
  }
  if (action !== undefined) throw new HttpError(404, 'NotFound', `unknown resource "${action}"`);
  switch (method) {
    case 'GET':
      return send(res, 200, ruleView(ctx.store.getRule(scope, ruleName), scope));
    case 'PUT': {
      const body = await readJson(req);
      if (!Array.isArray(body.rights) || !body.rights.every((r) => typeof r === 'string')) throw new HttpError(400, 'BadRequest', 'rights must be a list such as ["Listen","Send"]');
      let rights;
      try {
        rights = normalizeRights(body.rights as string[]);
      } catch (err) {
        throw new HttpError(400, 'BadRequest', (err as Error).message);
      }
      const rule = await ctx.store.putRule(scope, ruleName, rights);
      return send(res, 200, ruleView(rule, scope));
    }
    case 'DELETE':
      await ctx.store.deleteRule(scope, ruleName);
      return send(res, 204, undefined);
    default:
      throw new HttpError(405, 'MethodNotAllowed', `${method} is not allowed here`);
  }
}

/**
 * The authorizer only looks at the target's rules and the namespace's, so a valid key of another
 * hybrid connection's rule reads as a bad signature. Say what is really wrong: the rule's scope.
 */
function authFailure(store: NamespaceStore, failure: { status: number; reason: string }, token: string | undefined, target: string | undefined): HttpError {
  if (failure.status === 401 && failure.reason.startsWith('InvalidSignature') && token) {
    const owner = entityRuleSigning(store, token);
    if (owner) {
      const what = target === undefined ? 'namespace-wide operations (listing hybrid connections, namespace rules) need' : `managing "${target}" needs`;
      const reason = owner.rule.rights.includes('Manage')
        ? `rule "${owner.rule.keyName}" belongs to hybrid connection "${owner.entity}" and can manage only that one; ${what} a namespace-level Manage rule`
        : `Unauthorized: rule "${owner.rule.keyName}" of hybrid connection "${owner.entity}" does not grant Manage`;
      return new HttpError(403, 'Forbidden', reason, true);
    }
  }
  return new HttpError(failure.status, failure.status === 401 ? 'Unauthorized' : 'Forbidden', failure.reason, true);
}

/**
 * The hybrid-connection-level rule whose key signed `token`, if any. One rule is checked: that of
 * the hybrid connection the token's audience names, else the only one with the token's rule name.
 * A name that many hybrid connections share is not searched: a failed authentication costs the
 * same two signature checks however many hybrid connections and rules the namespace holds.
 */
function entityRuleSigning(store: NamespaceStore, token: string): { entity: string; rule: AuthorizationRule } | undefined {
  let sas;
  try {
    sas = parseSasToken(token);
  } catch {
    return undefined;
  }
  const keyName = sas.keyName.toLowerCase();
  const path = audiencePath(sas.resource);
  const audience = path ? store.matchPath(path)?.entity : undefined;
  const audienceRule = audience?.authorizationRules.find((r) => r.keyName.toLowerCase() === keyName);
  const named = store.entityRulesNamed(keyName);
  const candidate = audience && audienceRule ? { entity: audience, rule: audienceRule } : named.length === 1 ? named[0] : undefined;
  if (verifyRuleKeys(sas, candidate?.rule) === undefined || !candidate) return undefined;
  return { entity: candidate.entity.name, rule: candidate.rule };
}

function entityProps(body: Record<string, unknown>): { requiresClientAuthorization?: boolean; userMetadata?: string } {
  const props: { requiresClientAuthorization?: boolean; userMetadata?: string } = {};
  if (body.requiresClientAuthorization !== undefined) {
    if (typeof body.requiresClientAuthorization !== 'boolean') throw new HttpError(400, 'BadRequest', 'requiresClientAuthorization must be true or false');
    props.requiresClientAuthorization = body.requiresClientAuthorization;
  }
  if (body.userMetadata !== undefined) {
    if (typeof body.userMetadata !== 'string' || body.userMetadata.length > 1024) throw new HttpError(400, 'BadRequest', 'userMetadata must be a string of at most 1024 characters');
    props.userMetadata = body.userMetadata;
  }
  return props;
}

/**
 * Reads a JSON object body of at most MAX_BODY bytes. A larger body is answered with 413 at once;
 * the rest of it is read and dropped (bounded by the relay's linger for unread bodies), so the
 * client gets its answer instead of a reset.
 */
function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const tooLarge = () => new HttpError(413, 'PayloadTooLarge', `request body is larger than ${MAX_BODY} bytes`);
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    const refuse = () => {
      refused = true;
      chunks.length = 0;
      reject(tooLarge());
    };
    if (Number(req.headers['content-length'] ?? 0) > MAX_BODY) refuse();
    req.on('data', (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > MAX_BODY) return refuse();
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (refused) return;
      const text = Buffer.concat(chunks).toString('utf8').trim();
      if (!text) return resolve({});
      try {
        const value: unknown = JSON.parse(text);
        if (typeof value !== 'object' || value === null || Array.isArray(value)) return reject(new HttpError(400, 'BadRequest', 'request body must be a JSON object'));
        resolve(value as Record<string, unknown>);
      } catch {
        reject(new HttpError(400, 'BadRequest', 'request body is not valid JSON'));
      }
    });
    req.on('error', reject);
  });
}

/** Reports the request to the audit hook once its response is sent (or the client went away). */
function auditWhenAnswered(onOperation: (record: ManagementOperationRecord) => void, req: IncomingMessage, res: ServerResponse, rawPath: string): void {
  const segments = rawPath.split('/').filter((s) => s.length > 0).map(safeDecode);
  const what = describeOperation(req.method ?? 'GET', segments);
  const rule = claimedRule(headerValue(req, 'servicebusauthorization') ?? headerValue(req, 'authorization'));
  res.once('close', () => {
    const status = res.writableFinished ? res.statusCode : 499;
    onOperation({ ...what, ...(rule !== undefined ? { rule } : {}), status, result: status < 400 ? 'success' : 'failure', remote: req.socket.remoteAddress });
  });
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  const text = JSON.stringify(body, null, 2);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function storeErrorCode(status: number): string {
  return status === 404 ? 'NotFound' : status === 409 ? 'Conflict' : status === 400 ? 'BadRequest' : 'InternalError';
}
