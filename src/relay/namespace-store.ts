import { EventEmitter } from 'node:events';
import { isValidEntityPath, MAX_ENTITY_PATH_LENGTH } from '../protocol/relay-endpoint.js';
import { ALLOW_ALL, CompiledRuleSet, IpRuleError, type AddressDecision, type NetworkRuleSet } from './ip-rules.js';
import {
  type AccessRight,
  type AuthorizationRule,
  generateKey,
  type HybridConnection,
  type HybridConnectionSettings,
  MAX_RULES_PER_SCOPE,
  type NamespaceDocument,
  newRule,
  ROOT_RULE_NAME,
  RULE_NAME_PATTERN,
} from './namespace-model.js';
import { HTTP_DEADLINE_FIELDS, httpDeadlineProblem } from './http-deadlines.js';

/** Where the namespace document lives: a file, or Redis in a cluster. */
export interface StoreBackend {
  /** Claims the storage (the file backend's lock); called once, when the server can already serve. */
  open?(): Promise<void>;
  /** Reads the current document, or undefined when none was ever written. */
  load(): Promise<NamespaceDocument | undefined>;
  /**
   * Applies `change` to the latest document and stores the result atomically; returns the new
   * document. A cluster backend retries when another node wrote in between.
   */
  update(change: (doc: NamespaceDocument | undefined) => NamespaceDocument): Promise<NamespaceDocument>;
  /** Calls back when another process changed the document (cluster only); resolves once listening. */
  watch?(onChange: () => void): void | Promise<void>;
  close?(): Promise<void>;
}

export class StoreError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}

const KEY_PATTERN = /^[\x21-\x3a\x3c-\x7e]+$/;

/** A scope is the namespace (undefined) or one hybrid connection. */
export type RuleScope = string | undefined;

export type NamespaceChange =
  | { kind: 'hycoDeleted'; name: string }
  | { kind: 'hycoUpdated'; name: string }
  | { kind: 'ruleKeysChanged'; scope: RuleScope; keyName: string; revokedKeys: string[] }
  | { kind: 'ruleRemoved'; scope: RuleScope; keyName: string; revokedKeys: string[] }
  | { kind: 'networkRulesChanged' };

/** A rule of one hybrid connection. */
export interface EntityRule {
  entity: HybridConnection;
  rule: AuthorizationRule;
}

export interface HybridConnectionMatch {
  entity: HybridConnection;
  /** What follows the entity name in the path, without a leading slash. */
  suffix: string;
}

/**
 * The namespace's entities and rules. Reads are synchronous from an in-memory copy (the relay's
 * hot path); changes go through the backend and are announced as 'change' events, on every node.
 */
export class NamespaceStore extends EventEmitter {
  private doc!: NamespaceDocument;
  private byName = new Map<string, HybridConnection>();
  private entityRulesByName = new Map<string, EntityRule[]>();
  private revisionCount = 0;
  private addressRules = new CompiledRuleSet(ALLOW_ALL);
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly backend: StoreBackend) {
    super();
  }

  /** Loads the document, creating it with a root rule on first start. Returns whether it was created. */
  async open(create: () => NamespaceDocument): Promise<boolean> {
    await this.backend.open?.();
    // Listen before the first read, so that a change another node makes right after it is not missed.
    // A failed reload (cluster store briefly unreachable) keeps the copy we have; the next change retries.
    await this.backend.watch?.(() => void this.reload().catch(() => undefined));
    const existing = await this.backend.load();
    let created = false;
    if (existing) this.replace(existing);
    else {
      // In a cluster another node may create it first: then this one did not.
      const doc = await this.backend.update((current) => {
        created = current === undefined;
        return current ?? create();
      });
      this.replace(doc);
    }
    return created;
  }

  async close(): Promise<void> {
    await this.backend.close?.();
  }

  get document(): NamespaceDocument {
    return this.doc;
  }

  namespaceRules(): readonly AuthorizationRule[] {
    return this.doc.authorizationRules;
  }

  hybridConnections(): readonly HybridConnection[] {
    return this.doc.hybridConnections;
  }

  getHybridConnection(name: string): HybridConnection | undefined {
    return this.byName.get(name.toLowerCase());
  }

  /** The hybrid-connection-level rules called `keyName` (case-insensitive), across all hybrid connections. */
  entityRulesNamed(keyName: string): readonly EntityRule[] {
    return this.entityRulesByName.get(keyName.toLowerCase()) ?? [];
  }

  /**
   * Finds the entity a request path names: the longest run of leading segments that is a hybrid
   * connection. Only runs that can be a name (at most MAX_ENTITY_PATH_LENGTH characters) are tried,
   * so a long path costs no more than a short one.
   */
  matchPath(path: string): HybridConnectionMatch | undefined {
    const prefixes: { name: string; end: number }[] = [];
    let name = '';
    for (let at = 0; at <= path.length; ) {
      const slash = path.indexOf('/', at);
      const stop = slash < 0 ? path.length : slash;
      if (stop > at) {
        name = name ? `${name}/${path.slice(at, stop)}` : path.slice(at, stop);
        if (name.length > MAX_ENTITY_PATH_LENGTH) break;
        prefixes.push({ name, end: stop });
      }
      if (slash < 0) break;
      at = slash + 1;
    }
    for (let n = prefixes.length - 1; n >= 0; n--) {
      const entity = this.byName.get(prefixes[n]!.name.toLowerCase());
      if (entity) return { entity, suffix: segmentsAfter(path, prefixes[n]!.end) };
    }
    return undefined;
  }

  /**
   * Re-reads the document. When the backend has lost it while this process holds a copy (a
   * cluster's Redis restarted without persistence), the copy is written back ('restored' event).
   */
  async reload(): Promise<void> {
    const doc = await this.backend.load();
    if (doc) return this.replace(doc);
    if (!this.doc) return;
    let restored = false;
    const current = await this.backend.update((found) => {
      restored = found === undefined;
      return found ?? this.doc;
    });
    this.replace(current);
    if (restored) this.emit('restored');
  }

  // async so that validation failures reject the promise instead of throwing synchronously.
  async createHybridConnection(name: string, props: HybridConnectionSettings): Promise<HybridConnection> {
    // '.' and '..' segments pass the character check, but URL parsers on the client side fold them away.
    if (!isValidEntityPath(name) || name.split('/').some((s) => s === '.' || s === '..')) {
      throw new StoreError(`"${name}" is not a valid hybrid connection name (letters, digits, '.', '_', '-', '/' between segments, at most 260 characters)`, 400);
    }
    return this.mutate((doc) => {
      if (findEntity(doc, name)) throw new StoreError(`hybrid connection "${name}" already exists`, 409);
      const max = doc.limits?.maxHybridConnections;
      if (max !== undefined && doc.hybridConnections.length >= max) throw new StoreError(`QuotaExceeded: the namespace has its maximum of ${max} hybrid connections`, 409);
      const now = new Date().toISOString();
      const entity: HybridConnection = {
        name,
        requiresClientAuthorization: props.requiresClientAuthorization ?? true,
        userMetadata: props.userMetadata ?? '',
        createdAt: now,
        updatedAt: now,
        authorizationRules: [],
      };
      applyHttpDeadlines(entity, props);
      doc.hybridConnections.push(entity);
      return entity;
    });
  }

  /** Creates the hybrid connection unless it exists; returns whether it was created. */
  async ensureHybridConnection(name: string): Promise<boolean> {
    if (this.getHybridConnection(name)) return false;
    try {
      await this.createHybridConnection(name, {});
      return true;
    } catch (err) {
      if (err instanceof StoreError && err.status === 409) {
        // Another node created it since our copy was read: bring the copy up to date.
        await this.reload();
        return false;
      }
      throw err;
    }
  }

  updateHybridConnection(name: string, props: HybridConnectionSettings): Promise<HybridConnection> {
    return this.mutate((doc) => {
      const entity = requireEntity(doc, name);
      if (props.requiresClientAuthorization !== undefined) entity.requiresClientAuthorization = props.requiresClientAuthorization;
      if (props.userMetadata !== undefined) entity.userMetadata = props.userMetadata;
      applyHttpDeadlines(entity, props);
      entity.updatedAt = new Date().toISOString();
      return entity;
    });
  }

  deleteHybridConnection(name: string): Promise<void> {
    return this.mutate((doc) => {
      const entity = requireEntity(doc, name);
      doc.hybridConnections = doc.hybridConnections.filter((e) => e !== entity);
    });
  }

  /** The client IP rules (every address allowed when none were ever set). */
  networkRuleSet(): NetworkRuleSet {
    return this.doc.networkRuleSet ?? ALLOW_ALL;
  }

  /** Whether the IP rules let `address` in, and which rule said so; the same on every cluster node. */
  decideAddress(address: string | undefined): AddressDecision {
    return this.addressRules.decide(address);
  }

  /** Replaces the IP rules with what `change` makes of the current ones; an IpRuleError becomes a StoreError with its status. */
  changeNetworkRuleSet(change: (current: NetworkRuleSet) => NetworkRuleSet): Promise<NetworkRuleSet> {
    return this.mutate((doc) => {
      try {
        doc.networkRuleSet = change(doc.networkRuleSet ?? ALLOW_ALL);
      } catch (err) {
        if (err instanceof IpRuleError) throw new StoreError(err.message, err.status);
        throw err;
      }
      return doc.networkRuleSet;
    });
  }

  rules(scope: RuleScope): readonly AuthorizationRule[] {
    if (scope === undefined) return this.doc.authorizationRules;
    const entity = this.getHybridConnection(scope);
    if (!entity) throw new StoreError(`hybrid connection "${scope}" does not exist`, 404);
    return entity.authorizationRules;
  }

  getRule(scope: RuleScope, keyName: string): AuthorizationRule {
    const rule = this.rules(scope).find((r) => r.keyName.toLowerCase() === keyName.toLowerCase());
    if (!rule) throw new StoreError(`authorization rule "${keyName}" does not exist${scope ? ` on "${scope}"` : ''}`, 404);
    return rule;
  }

  /** Creates a rule, or updates its rights when it exists (az's create behaves as create-or-update). */
  async putRule(scope: RuleScope, keyName: string, rights: AccessRight[]): Promise<AuthorizationRule> {
    if (!RULE_NAME_PATTERN.test(keyName)) throw new StoreError(`"${keyName}" is not a valid rule name (letters, digits, '.', '_', '-')`, 400);
    if (rights.length === 0) throw new StoreError('a rule needs at least one right (Listen, Send, Manage)', 400);
    return this.mutate((doc) => {
      const list = scopeRules(doc, scope);
      const existing = list.find((r) => r.keyName.toLowerCase() === keyName.toLowerCase());
      if (existing) {
        if (scope === undefined && existing.keyName === ROOT_RULE_NAME && !rights.includes('Manage')) {
          throw new StoreError(`${ROOT_RULE_NAME} must keep the Manage right`, 400);
        }
        existing.rights = rights;
        existing.modifiedAt = new Date().toISOString();
        return existing;
      }
      const max = Math.min(MAX_RULES_PER_SCOPE, doc.limits?.maxRulesPerScope ?? MAX_RULES_PER_SCOPE);
      if (list.length >= max) throw new StoreError(`at most ${max} authorization rules per scope`, 409);
      const rule = newRule(keyName, rights);
      list.push(rule);
      return rule;
    });
  }

  deleteRule(scope: RuleScope, keyName: string): Promise<void> {
    return this.mutate((doc) => {
      const list = scopeRules(doc, scope);
      const index = list.findIndex((r) => r.keyName.toLowerCase() === keyName.toLowerCase());
      if (index < 0) throw new StoreError(`authorization rule "${keyName}" does not exist${scope ? ` on "${scope}"` : ''}`, 404);
      if (scope === undefined && list[index]!.keyName === ROOT_RULE_NAME && !list.some((r, i) => i !== index && r.rights.includes('Manage'))) {
        throw new StoreError(`cannot delete ${ROOT_RULE_NAME} while it is the only rule with the Manage right`, 409);
      }
      list.splice(index, 1);
    });
  }

  /** Replaces one key with a new random value (or the given one); the old key stops working at once. */
  async renewKey(scope: RuleScope, keyName: string, which: 'primary' | 'secondary', value?: string): Promise<AuthorizationRule> {
    if (value !== undefined && (value.length < 16 || value.length > 256)) throw new StoreError('a key must be 16 to 256 characters long', 400);
    // Keys end up in connection strings, which split on ';' and trim spaces.
    if (value !== undefined && !KEY_PATTERN.test(value)) throw new StoreError("a key may hold printable ASCII characters only, without spaces or ';'", 400);
    return this.mutate((doc) => {
      const rule = scopeRules(doc, scope).find((r) => r.keyName.toLowerCase() === keyName.toLowerCase());
      if (!rule) throw new StoreError(`authorization rule "${keyName}" does not exist${scope ? ` on "${scope}"` : ''}`, 404);
      if (which === 'primary') rule.primaryKey = value ?? generateKey();
      else rule.secondaryKey = value ?? generateKey();
      rule.modifiedAt = new Date().toISOString();
      return rule;
    });
  }

  private mutate<T>(change: (doc: NamespaceDocument) => T): Promise<T> {
    const run = async () => {
      let result!: T;
      const doc = await this.backend.update((current) => {
        // A backend that lost the document (see reload) gets this process's copy back with the change.
        const base = current ?? this.doc;
        if (!base) throw new StoreError('the namespace document is missing', 500);
        const copy = structuredClone(base);
        result = change(copy);
        return copy;
      });
      this.replace(doc);
      return structuredClone(result);
    };
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Goes up with every new version of the document (local or from the cluster). */
  get revision(): number {
    return this.revisionCount;
  }

  private replace(doc: NamespaceDocument): void {
    const previous = this.doc;
    this.doc = doc;
    this.revisionCount++;
    this.addressRules = new CompiledRuleSet(doc.networkRuleSet ?? ALLOW_ALL);
    this.byName = new Map(doc.hybridConnections.map((e) => [e.name.toLowerCase(), e]));
    this.entityRulesByName = new Map();
    for (const entity of doc.hybridConnections) {
      for (const rule of entity.authorizationRules) {
        const key = rule.keyName.toLowerCase();
        const list = this.entityRulesByName.get(key);
        if (list) list.push({ entity, rule });
        else this.entityRulesByName.set(key, [{ entity, rule }]);
      }
    }
    if (previous) for (const change of diffNamespaces(previous, doc)) this.emit('change', change);
  }
}

/** The non-empty segments of `path` after position `from`, joined with single slashes. */
function segmentsAfter(path: string, from: number): string {
  return path
    .slice(from)
    .split('/')
    .filter((s) => s.length > 0)
    .join('/');
}

/** Sets or clears (null) the entity's relayed-HTTP deadlines; a bad value is refused before anything changes. */
function applyHttpDeadlines(entity: HybridConnection, props: HybridConnectionSettings): void {
  for (const field of HTTP_DEADLINE_FIELDS) {
    const problem = httpDeadlineProblem(field, props[field]);
    if (props[field] !== undefined && problem) throw new StoreError(problem, 400);
  }
  for (const field of HTTP_DEADLINE_FIELDS) {
    const value = props[field];
    if (value === null) delete entity[field];
    else if (value !== undefined) entity[field] = value;
  }
}

function findEntity(doc: NamespaceDocument, name: string): HybridConnection | undefined {
  return doc.hybridConnections.find((e) => e.name.toLowerCase() === name.toLowerCase());
}

function requireEntity(doc: NamespaceDocument, name: string): HybridConnection {
  const entity = findEntity(doc, name);
  if (!entity) throw new StoreError(`hybrid connection "${name}" does not exist`, 404);
  return entity;
}

function scopeRules(doc: NamespaceDocument, scope: RuleScope): AuthorizationRule[] {
  return scope === undefined ? doc.authorizationRules : requireEntity(doc, scope).authorizationRules;
}

/** What changed between two documents, in the terms the relay acts on (closing affected connections). */
export function diffNamespaces(before: NamespaceDocument, after: NamespaceDocument): NamespaceChange[] {
  const changes: NamespaceChange[] = [];
  const diffRules = (scope: RuleScope, oldRules: AuthorizationRule[], newRules: AuthorizationRule[]) => {
    for (const old of oldRules) {
      const now = newRules.find((r) => r.keyName.toLowerCase() === old.keyName.toLowerCase());
      if (!now) {
        changes.push({ kind: 'ruleRemoved', scope, keyName: old.keyName, revokedKeys: [old.primaryKey, old.secondaryKey] });
        continue;
      }
      const revoked = [old.primaryKey, old.secondaryKey].filter((k) => k !== now.primaryKey && k !== now.secondaryKey);
      const lostRights = old.rights.some((r) => !now.rights.includes(r));
      if (revoked.length > 0 || lostRights) {
        changes.push({ kind: 'ruleKeysChanged', scope, keyName: old.keyName, revokedKeys: lostRights ? [old.primaryKey, old.secondaryKey] : revoked });
      }
    }
  };
  diffRules(undefined, before.authorizationRules, after.authorizationRules);
  if (JSON.stringify(before.networkRuleSet ?? ALLOW_ALL) !== JSON.stringify(after.networkRuleSet ?? ALLOW_ALL)) changes.push({ kind: 'networkRulesChanged' });
  for (const old of before.hybridConnections) {
    const now = after.hybridConnections.find((e) => e.name.toLowerCase() === old.name.toLowerCase());
    if (!now) {
      changes.push({ kind: 'hycoDeleted', name: old.name });
      continue;
    }
    if (now.updatedAt !== old.updatedAt) changes.push({ kind: 'hycoUpdated', name: old.name });
    diffRules(old.name, old.authorizationRules, now.authorizationRules);
  }
  return changes;
}
