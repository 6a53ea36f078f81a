import { createHash, randomBytes } from 'node:crypto';
import { audiencePath, parseSasToken, pathCovers, SasTokenError, verifySasSignature, type SasToken } from '../protocol/sas-token.js';
import type { AccessRight, AuthorizationRule } from './namespace-model.js';
import type { NamespaceStore, RuleScope } from './namespace-store.js';

/** Who a connection was admitted as; kept so that renewing or deleting that key can cut it off. */
export interface Grant {
  anonymous: boolean;
  scope: RuleScope;
  keyName: string;
  /** SHA-256 of the key that verified the signature: enough to revoke, useless to forge. */
  keyFingerprint: string;
  expiresAt: number;
}

export type AuthResult = { ok: true; grant: Grant } | { ok: false; status: 401 | 403; reason: string };

export const ANONYMOUS_GRANT: Grant = { anonymous: true, scope: undefined, keyName: '', keyFingerprint: '', expiresAt: Number.POSITIVE_INFINITY };

export function keyFingerprint(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export interface AuthorizeRequest {
  token: string | undefined;
  /** The hybrid connection, or undefined for namespace-level management. */
  entity: string | undefined;
  right: AccessRight;
  /** The hybrid connection lets senders in without a token. */
  anonymousAllowed?: boolean;
  now?: number;
}

/**
 * The path inside the namespace that a token's resource URI names, or undefined when the audience
 * is refused (malformed, or another namespace's: namespaces/namespace-audience.ts).
 */
export type AudiencePathOf = (resource: string) => string | undefined;

/**
 * Checks a SAS token against the namespace's and the entity's rules (protocol reference §4.1).
 * Reasons are safe to show: they never contain the token or a key.
 */
export function authorize(store: NamespaceStore, request: AuthorizeRequest, audienceOf: AudiencePathOf = audiencePath): AuthResult {
  const { token, entity, right } = request;
  if (!token) {
    if (request.anonymousAllowed) return { ok: true, grant: ANONYMOUS_GRANT };
    return { ok: false, status: 401, reason: 'MissingToken: no ServiceBusAuthorization header or sb-hc-token parameter' };
  }
  if (/^(Bearer\s+)?[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token.trim())) {
    return { ok: false, status: 401, reason: 'UnsupportedToken: this relay accepts SAS tokens only; start it with --jwt-issuer to accept tokens from an identity provider' };
  }
  let sas;
  try {
    sas = parseSasToken(token);
  } catch (err) {
    return { ok: false, status: 401, reason: `MalformedToken: ${(err as SasTokenError).message}` };
  }
  const now = request.now ?? Date.now() / 1000;
  if (sas.expiresAt < now) return { ok: false, status: 401, reason: 'ExpiredToken: the token has expired' };

  // Rule names are unique per scope: one candidate rule of the entity, one of the namespace. Both
  // are checked, present or not, so a failure costs the same whatever the namespace holds.
  const keyName = sas.keyName.toLowerCase();
  const hc = entity === undefined ? undefined : store.getHybridConnection(entity);
  const entityRule = hc?.authorizationRules.find((r) => r.keyName.toLowerCase() === keyName);
  const namespaceRule = store.namespaceRules().find((r) => r.keyName.toLowerCase() === keyName);
  const verified = [
    { scope: hc?.name, rule: entityRule, key: verifyRuleKeys(sas, entityRule) },
    { scope: undefined, rule: namespaceRule, key: verifyRuleKeys(sas, namespaceRule) },
  ];
  for (const { scope, rule, key } of verified) {
    if (key === undefined || rule === undefined) continue;
    const tokenPath = audienceOf(sas.resource);
    if (entity !== undefined && !pathCovers(tokenPath, entity)) {
      return { ok: false, status: 401, reason: `InvalidAudience: the token is not for "${entity}"` };
    }
    if (entity === undefined && !pathCovers(tokenPath, '')) {
      return { ok: false, status: 401, reason: 'InvalidAudience: namespace management needs a token for the namespace' };
    }
    if (!rule.rights.includes(right)) {
      return { ok: false, status: 403, reason: `Unauthorized: rule "${rule.keyName}" does not grant ${right}` };
    }
    return { ok: true, grant: { anonymous: false, scope, keyName: rule.keyName, keyFingerprint: keyFingerprint(key), expiresAt: sas.expiresAt } };
  }
  return { ok: false, status: 401, reason: 'InvalidSignature: the token has an invalid signature' };
}

/** Stands in for a rule that does not exist, so that checking it costs what checking a real one does. */
const ABSENT_RULE_KEY = randomBytes(32).toString('base64');

/**
 * The key of `rule` that signed the token, if one did. Always two signature checks, also for an
 * absent rule: how long a failure takes says nothing about which rule names exist.
 */
export function verifyRuleKeys(sas: SasToken, rule: AuthorizationRule | undefined): string | undefined {
  const primary = verifySasSignature(sas, rule?.primaryKey ?? ABSENT_RULE_KEY);
  const secondary = verifySasSignature(sas, rule?.secondaryKey ?? ABSENT_RULE_KEY);
  if (!rule) return undefined;
  return primary ? rule.primaryKey : secondary ? rule.secondaryKey : undefined;
}

/** True when a connection admitted with `grant` must be cut off because its key was revoked. */
export function grantRevoked(grant: Grant, scope: RuleScope, keyName: string, revokedKeys: readonly string[]): boolean {
  if (grant.anonymous) return false;
  const sameScope = (grant.scope ?? '').toLowerCase() === (scope ?? '').toLowerCase();
  return sameScope && grant.keyName.toLowerCase() === keyName.toLowerCase() && revokedKeys.some((k) => keyFingerprint(k) === grant.keyFingerprint);
}
