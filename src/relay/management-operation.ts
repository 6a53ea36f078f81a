import { parseSasToken } from '../protocol/sas-token.js';

/** One management request, for the audit log: who (the rule whose key signed the token), what, on what, and how it went. Never a key. */
export interface ManagementOperationRecord {
  /** In `az relay`'s words: `hyco create`, `authorization-rule list`, `keys renew`, ... */
  operation: string;
  /** The hybrid connection operated on, when there is one. */
  hyco?: string;
  /** The authorization rule operated on (authorization-rule and keys operations). */
  targetRule?: string;
  /** The rule named by the caller's token (its skn), whether or not the token was valid. */
  rule?: string;
  status: number;
  result: 'success' | 'failure';
  remote?: string;
}

/**
 * Names a management request as `az relay` would: the path decides the noun, the method the verb.
 * `segments` are the decoded path segments after /$hybridge/v1.
 */
export function describeOperation(method: string, segments: readonly string[]): Pick<ManagementOperationRecord, 'operation' | 'hyco' | 'targetRule'> {
  const [root, name, sub, ruleName, action] = segments;
  const verb = (list: boolean) => ({ GET: list ? 'list' : 'show', PUT: 'create', PATCH: 'update', DELETE: 'delete', POST: 'show' })[method] ?? method.toLowerCase();
  if (root === 'status') return { operation: 'status' };
  if (root === 'hybridconnections') {
    if (sub === 'authorizationrules') return ruleOperation(verb, ruleName, action, name);
    return { operation: `hyco ${verb(name === undefined)}`, ...(name !== undefined ? { hyco: name } : {}) };
  }
  if (root === 'authorizationrules') return ruleOperation(verb, name, sub, undefined);
  return { operation: `${method.toLowerCase()} ${segments.slice(0, 1).join('/') || '/'}` };
}

function ruleOperation(verb: (list: boolean) => string, ruleName: string | undefined, action: string | undefined, hyco: string | undefined) {
  const on = { ...(hyco !== undefined ? { hyco } : {}), ...(ruleName !== undefined ? { targetRule: ruleName } : {}) };
  if (action === 'keys') return { operation: 'keys list', ...on };
  if (action === 'regeneratekeys') return { operation: 'keys renew', ...on };
  return { operation: `authorization-rule ${verb(ruleName === undefined)}`, ...on };
}

/** The rule name a token claims (its skn), read without checking the signature; never the key. */
export function claimedRule(token: string | undefined): string | undefined {
  if (!token) return undefined;
  try {
    return parseSasToken(token).keyName.slice(0, 256);
  } catch {
    return undefined;
  }
}
