import type { IncomingMessage, ServerResponse } from 'node:http';
import { CompiledRuleSet, IpRuleError, normalizeRuleSet, withIpRule, withoutIpRule, type NetworkRuleSet } from './ip-rules.js';
import type { ManagementContext } from './management-api.js';
import { HttpError, readJson, send } from './management-http.js';

/** The one rule set of a namespace has Azure's fixed name. */
const RULE_SET_NAME = 'default';

/** A rule set as `az relay namespace network-rule-set show` prints it (flattened, without ARM ids). */
export function networkRuleSetView(set: NetworkRuleSet) {
  return { name: RULE_SET_NAME, type: 'Microsoft.Relay/Namespaces/NetworkRuleSets', defaultAction: set.defaultAction, ipRules: set.ipRules };
}

/**
 * `/networkrulesets[/default[/iprules[/{ipMask}]]]`, for namespace-level Manage callers:
 *   GET    /networkrulesets                   the list (one set, as Azure has)
 *   GET    /networkrulesets/default           the set
 *   PUT    /networkrulesets/default           replace it: {"defaultAction", "ipRules"} (or Azure's {"properties": {...}})
 *   PATCH  /networkrulesets/default           change what the body names
 *   GET    /networkrulesets/default/iprules   the rules, in order
 *   POST   /networkrulesets/default/iprules   add {"ipMask", "action", "position"?}
 *   DELETE /networkrulesets/default/iprules/{ipMask}   remove (the mask's '/' travels as %2F)
 * Every change is refused (409) when it would refuse the address the request comes from.
 */
export async function networkRuleSetRoute(ctx: ManagementContext, req: IncomingMessage, res: ServerResponse, method: string, segments: string[]): Promise<void> {
  const [name, sub, mask, extra] = segments;
  if (name === undefined) {
    if (method !== 'GET') throw new HttpError(405, 'MethodNotAllowed', `${method} is not allowed here`);
    return send(res, 200, [networkRuleSetView(ctx.store.networkRuleSet())]);
  }
  if (name.toLowerCase() !== RULE_SET_NAME) throw new HttpError(404, 'NotFound', `a namespace has one network rule set, "${RULE_SET_NAME}"`);
  if (sub === undefined) return ruleSetRoute(ctx, req, res, method);
  if (sub !== 'iprules' || extra !== undefined) throw new HttpError(404, 'NotFound', `unknown resource "${segments.slice(1).join('/')}"`);
  if (mask !== undefined) {
    if (method !== 'DELETE') throw new HttpError(405, 'MethodNotAllowed', `${method} is not allowed here`);
    return change(ctx, res, (current) => withoutIpRule(current, mask));
  }
  switch (method) {
    case 'GET':
      return send(res, 200, ctx.store.networkRuleSet().ipRules);
    case 'POST': {
      const body = await readJson(req);
      return change(ctx, res, (current) => withIpRule(current, body.ipMask, body.action, body.position));
    }
    default:
      throw new HttpError(405, 'MethodNotAllowed', `${method} is not allowed here`);
  }
}

async function ruleSetRoute(ctx: ManagementContext, req: IncomingMessage, res: ServerResponse, method: string): Promise<void> {
  switch (method) {
    case 'GET':
      return send(res, 200, networkRuleSetView(ctx.store.networkRuleSet()));
    case 'PUT': {
      const props = properties(await readJson(req));
      if (props.defaultAction === undefined) throw new HttpError(400, 'BadRequest', 'defaultAction (Allow or Deny) is required');
      return change(ctx, res, () => normalizeRuleSet({ defaultAction: props.defaultAction, ipRules: props.ipRules ?? [] }));
    }
    case 'PATCH': {
      const props = properties(await readJson(req));
      return change(ctx, res, (current) =>
        normalizeRuleSet({ defaultAction: props.defaultAction ?? current.defaultAction, ipRules: props.ipRules ?? current.ipRules }),
      );
    }
    default:
      throw new HttpError(405, 'MethodNotAllowed', `${method} is not allowed here`);
  }
}

/** The body's fields, or those under `properties` (the shape of Azure's REST API). */
function properties(body: Record<string, unknown>): Record<string, unknown> {
  const nested = body.properties;
  if (nested === undefined) return body;
  if (typeof nested !== 'object' || nested === null || Array.isArray(nested)) throw new HttpError(400, 'BadRequest', 'properties must be an object');
  return nested as Record<string, unknown>;
}

/** Applies `edit` to the stored set (atomically, on the latest version) unless the result would refuse the caller. */
async function change(ctx: ManagementContext, res: ServerResponse, edit: (current: NetworkRuleSet) => NetworkRuleSet): Promise<void> {
  const updated = await ctx.store.changeNetworkRuleSet((current) => {
    const next = edit(current);
    if (!new CompiledRuleSet(next).decide(ctx.clientAddress).allowed) {
      throw new IpRuleError(`this change would refuse the address this request comes from (${ctx.clientAddress ?? 'unknown'}); allow that address first`, 409);
    }
    return next;
  });
  send(res, 200, networkRuleSetView(updated));
}
