import type { IncomingMessage, ServerResponse } from 'node:http';
import { formatConnectionString } from '../protocol/connection-string.js';
import type { RelayEndpoint } from '../protocol/relay-endpoint.js';
import { audiencePath, parseSasToken } from '../protocol/sas-token.js';
import { verifyRuleKeys, type AuthResult } from './authorizer.js';
import { sendRelayError } from './http-errors.js';
import { HTTP_DEADLINE_FIELDS, httpDeadlineProblem } from './http-deadlines.js';
import { claimedRule, describeOperation, type ManagementOperationRecord } from './management-operation.js';
import { normalizeRights, type AuthorizationRule, type HybridConnection, type HybridConnectionSettings } from './namespace-model.js';
import { StoreError, type NamespaceStore, type RuleScope } from './namespace-store.js';
import { HttpError, readJson, send } from './management-http.js';
import { networkRuleSetRoute } from './network-rules-api.js';
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
  authorizeManage(token: string | undefined, entity: string | undefined): Promise<AuthResult>;
  /** Every request once answered, for the audit log (names only, never a key). */
  onOperation?(record: ManagementOperationRecord): void;
  /** Sends the answer to a failed authentication (through the relay's failure throttle). */
  onAuthFailure(answer: () => void): void;
  /** The caller's address, so that no change of the IP rules locks the caller out. */
  clientAddress: string | undefined;
}

export function hycoView(entity: HybridConnection, listenerCount: number) {
  return {
    name: entity.name,
    type: 'Microsoft.Relay/Namespaces/HybridConnections',
    requiresClientAuthorization: entity.requiresClientAuthorization,
    userMetadata: entity.userMetadata,
    listenerCount,
    createdAt: entity.createdAt,
    updatedAt: entity.updatedAt,
    // hybridge extensions; null: the relay's default applies.
    responseTimeoutMs: entity.responseTimeoutMs ?? null,
    responseIdleTimeoutMs: entity.responseIdleTimeoutMs ?? null,
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

/**
 * The REST API behind `hybridge hyco ...` and `hybridge namespace ...`:
 *   /hybridconnections[/{name}[/authorizationrules[/{rule}[/keys|/regeneratekeys]]]]
 *   /authorizationrules[/{rule}[/keys|/regeneratekeys]]
 *   /networkrulesets[/default[/iprules[/{ipMask}]]]
 * Names are one URL segment each (a '/' in a hybrid connection name is sent as %2F).
 */
export async function handleManagementRequest(ctx: ManagementContext, req: IncomingMessage, res: ServerResponse, rawPath: string): Promise<void> {
  if (ctx.onOperation) auditWhenAnswered(ctx.onOperation, req, res, rawPath, ctx.clientAddress);
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
      const auth = await ctx.authorizeManage(token, entity);
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
      const auth = await ctx.authorizeManage(token, undefined);
      if (!auth.ok) throw authFailure(ctx.store, auth, token, undefined);
      return await ruleRoute(ctx, req, res, method, undefined, name, sub);
    }
    if (root === 'networkrulesets') {
      const auth = await ctx.authorizeManage(token, undefined);
      if (!auth.ok) throw authFailure(ctx.store, auth, token, undefined);
      if (auth.grant.scope !== undefined) throw new HttpError(403, 'Forbidden', 'the network rule set needs a namespace-level Manage rule');
      return await networkRuleSetRoute(ctx, req, res, method, segments.slice(1));
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

function entityProps(body: Record<string, unknown>): HybridConnectionSettings {
  const props: HybridConnectionSettings = {};
  if (body.requiresClientAuthorization !== undefined) {
    if (typeof body.requiresClientAuthorization !== 'boolean') throw new HttpError(400, 'BadRequest', 'requiresClientAuthorization must be true or false');
    props.requiresClientAuthorization = body.requiresClientAuthorization;
  }
  if (body.userMetadata !== undefined) {
    if (typeof body.userMetadata !== 'string' || body.userMetadata.length > 1024) throw new HttpError(400, 'BadRequest', 'userMetadata must be a string of at most 1024 characters');
    props.userMetadata = body.userMetadata;
  }
  for (const field of HTTP_DEADLINE_FIELDS) {
    const value = body[field];
    if (value === undefined) continue;
    const problem = httpDeadlineProblem(field, value);
    if (problem) throw new HttpError(400, 'BadRequest', problem);
    props[field] = value as number | null;
  }
  return props;
}

/** Reports the request to the audit hook once its response is sent (or the client went away). */
function auditWhenAnswered(onOperation: (record: ManagementOperationRecord) => void, req: IncomingMessage, res: ServerResponse, rawPath: string, remote: string | undefined): void {
  const segments = rawPath.split('/').filter((s) => s.length > 0).map(safeDecode);
  const what = describeOperation(req.method ?? 'GET', segments);
  const rule = claimedRule(headerValue(req, 'servicebusauthorization') ?? headerValue(req, 'authorization'));
  res.once('close', () => {
    const status = res.writableFinished ? res.statusCode : 499;
    onOperation({ ...what, ...(rule !== undefined ? { rule } : {}), status, result: status < 400 ? 'success' : 'failure', remote });
  });
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function storeErrorCode(status: number): string {
  return status === 404 ? 'NotFound' : status === 409 ? 'Conflict' : status === 400 ? 'BadRequest' : 'InternalError';
}
