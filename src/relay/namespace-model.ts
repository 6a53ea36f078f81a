import { randomBytes } from 'node:crypto';
import type { NetworkRuleSet } from './ip-rules.js';

/** Rights of a shared access authorization rule, as Azure names them. */
export type AccessRight = 'Listen' | 'Send' | 'Manage';
export const ACCESS_RIGHTS: readonly AccessRight[] = ['Listen', 'Send', 'Manage'];

export interface AuthorizationRule {
  keyName: string;
  primaryKey: string;
  secondaryKey: string;
  rights: AccessRight[];
  createdAt: string;
  modifiedAt: string;
}

export interface HybridConnection {
  name: string;
  requiresClientAuthorization: boolean;
  userMetadata: string;
  createdAt: string;
  updatedAt: string;
  authorizationRules: AuthorizationRule[];
  /** Relayed HTTP deadlines of this hybrid connection (hybridge extensions); absent: the relay's defaults. */
  responseTimeoutMs?: number;
  responseIdleTimeoutMs?: number;
}

/** What creating or updating a hybrid connection may set; a deadline set to null goes back to the relay's default. */
export interface HybridConnectionSettings {
  requiresClientAuthorization?: boolean;
  userMetadata?: string;
  responseTimeoutMs?: number | null;
  responseIdleTimeoutMs?: number | null;
}

/** Everything a namespace holds; this is the document the file store writes. */
export interface NamespaceDocument {
  formatVersion: 1;
  createdAt: string;
  authorizationRules: AuthorizationRule[];
  hybridConnections: HybridConnection[];
  /** Client IP rules (src/relay/ip-rules.ts); absent means every address may connect. */
  networkRuleSet?: NetworkRuleSet;
  /** A hosted namespace's own quotas (set when it is created); absent ones are the relay's. */
  limits?: NamespaceLimits;
}

/** What one hosted namespace may hold and use (namespaces/namespace-limits.ts). */
export interface NamespaceLimits {
  /** Connections of the namespace on one relay node (the relay's --max-connections otherwise). */
  maxConnections?: number;
  /** Listeners per hybrid connection (the relay's --max-listeners otherwise). */
  maxListenersPerHyco?: number;
  /** Hybrid connections in the namespace (no limit otherwise). */
  maxHybridConnections?: number;
  /** Authorization rules per scope (MAX_RULES_PER_SCOPE otherwise, and never more). */
  maxRulesPerScope?: number;
}

export const ROOT_RULE_NAME = 'RootManageSharedAccessKey';
/** Azure allows at most 12 rules per scope. */
export const MAX_RULES_PER_SCOPE = 12;
export const RULE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,255}$/;

/** A 256-bit key in base64, as Azure generates them. */
export function generateKey(): string {
  return randomBytes(32).toString('base64');
}

/** Manage implies Listen and Send, as in Service Bus ("a rule with manage rights must also have send and receive rights"). */
export function normalizeRights(rights: readonly string[]): AccessRight[] {
  const set = new Set<AccessRight>();
  for (const r of rights) {
    const match = ACCESS_RIGHTS.find((a) => a.toLowerCase() === r.trim().toLowerCase());
    if (!match) throw new Error(`unknown right "${r}"; rights are Listen, Send and Manage`);
    set.add(match);
  }
  if (set.has('Manage')) {
    set.add('Listen');
    set.add('Send');
  }
  return ACCESS_RIGHTS.filter((r) => set.has(r));
}

export function newRule(keyName: string, rights: AccessRight[], primaryKey = generateKey(), now = new Date().toISOString()): AuthorizationRule {
  return { keyName, primaryKey, secondaryKey: generateKey(), rights, createdAt: now, modifiedAt: now };
}

export function emptyNamespace(rootKey?: string): NamespaceDocument {
  const now = new Date().toISOString();
  return {
    formatVersion: 1,
    createdAt: now,
    authorizationRules: [newRule(ROOT_RULE_NAME, ['Listen', 'Send', 'Manage'], rootKey ?? generateKey(), now)],
    hybridConnections: [],
  };
}
