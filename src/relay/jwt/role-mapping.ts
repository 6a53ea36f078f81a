import { parse as parseYaml } from 'yaml';
import { isValidEntityPath } from '../../protocol/relay-endpoint.js';
import { normalizeRights, type AccessRight } from '../namespace-model.js';

/** What one role value in a token grants. */
export interface RoleGrant {
  rights: AccessRight[];
  /** Lower-cased hybrid connection names; undefined: the whole namespace. */
  hybridConnections: string[] | undefined;
}

export interface RoleMapping {
  /** Claims whose values are role names: arrays of strings, or space-separated strings (`scp`). */
  claims: string[];
  roles: Map<string, RoleGrant>;
}

export class RoleMappingError extends Error {}

/**
 * Azure's built-in roles for Azure Relay, by name, and with dots instead of spaces (an Entra ID app
 * role's value cannot contain spaces). With Azure Relay the role assignment lives in Azure RBAC; a
 * self-hosted relay reads it from the token, so the issuer must put it there (an app role).
 */
export const BUILT_IN_ROLES: ReadonlyArray<[string, AccessRight[]]> = [
  ['Azure Relay Owner', ['Listen', 'Send', 'Manage']],
  ['Azure Relay Listener', ['Listen']],
  ['Azure Relay Sender', ['Send']],
  ['Azure.Relay.Owner', ['Listen', 'Send', 'Manage']],
  ['Azure.Relay.Listener', ['Listen']],
  ['Azure.Relay.Sender', ['Send']],
];

export const DEFAULT_ROLE_CLAIMS = ['roles', 'scp'];
const MAX_ROLES = 1000;

export function defaultRoleMapping(): RoleMapping {
  return { claims: [...DEFAULT_ROLE_CLAIMS], roles: new Map(BUILT_IN_ROLES.map(([name, rights]) => [name, { rights, hybridConnections: undefined }])) };
}

/**
 * A role mapping file (YAML or JSON):
 *
 *   claims: [roles, scp, groups]      # optional, default [roles, scp]
 *   builtInRoles: true                # optional: keep the Azure Relay Owner/Listener/Sender names
 *   roles:
 *     tunnel-operator:                # a value of one of the claims, exactly as the token has it
 *       rights: [Listen, Send]        # Manage implies Listen and Send
 *       hybridConnections: [tunnel]   # optional; default the whole namespace
 */
export function parseRoleMapping(text: string): RoleMapping {
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 0 });
  } catch (err) {
    throw new RoleMappingError(`it is not YAML or JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  const top = object(doc, 'the file');
  checkKeys(top, ['claims', 'builtInRoles', 'roles'], 'the file');
  const mapping = top.builtInRoles === false ? { claims: [...DEFAULT_ROLE_CLAIMS], roles: new Map<string, RoleGrant>() } : defaultRoleMapping();
  if (top.builtInRoles !== undefined && typeof top.builtInRoles !== 'boolean') throw new RoleMappingError('builtInRoles must be true or false');
  if (top.claims !== undefined) mapping.claims = stringList(top.claims, 'claims', (s) => /^[A-Za-z0-9_:.\-/]{1,128}$/.test(s));
  if (mapping.claims.length === 0) throw new RoleMappingError('claims must name at least one claim');
  const roles = top.roles === undefined ? {} : object(top.roles, 'roles');
  const entries = Object.entries(roles);
  if (entries.length > MAX_ROLES) throw new RoleMappingError(`at most ${MAX_ROLES} roles`);
  for (const [name, value] of entries) {
    const where = `role "${name.slice(0, 100)}"`;
    if (name.length === 0 || name.length > 256) throw new RoleMappingError(`${where}: a role name has 1 to 256 characters`);
    const entry = object(value, where);
    checkKeys(entry, ['rights', 'hybridConnections'], where);
    let rights: AccessRight[];
    try {
      rights = normalizeRights(stringList(entry.rights, `${where}: rights`));
    } catch (err) {
      throw new RoleMappingError(err instanceof RoleMappingError ? err.message : `${where}: ${(err as Error).message}`);
    }
    if (rights.length === 0) throw new RoleMappingError(`${where}: rights must list Listen, Send or Manage`);
    const hybridConnections = entry.hybridConnections === undefined ? undefined : stringList(entry.hybridConnections, `${where}: hybridConnections`, isValidEntityPath).map((h) => h.toLowerCase());
    if (hybridConnections?.length === 0) throw new RoleMappingError(`${where}: hybridConnections must name at least one (leave it out for the whole namespace)`);
    mapping.roles.set(name, { rights, hybridConnections });
  }
  if (mapping.roles.size === 0) throw new RoleMappingError('no roles: with builtInRoles: false, list roles');
  return mapping;
}

/** What a token's roles grant for `entity` (undefined: the namespace itself, as namespace management). */
export interface RoleDecision {
  /** The token carries at least one role this mapping knows. */
  anyRole: boolean;
  rights: Set<AccessRight>;
  /** Rights granted for the whole namespace (the rest only for `entity`). */
  namespaceRights: Set<AccessRight>;
}

/**
 * Role values come from the mapping's claims. A value `role:hybrid-connection` is the role limited
 * to that hybrid connection (within what the mapping allows the role), so an issuer can scope a
 * built-in role to one hybrid connection as Azure's entity-level role assignments do.
 */
export function decideRoles(mapping: RoleMapping, payload: Record<string, unknown>, entity: string | undefined): RoleDecision {
  const decision: RoleDecision = { anyRole: false, rights: new Set(), namespaceRights: new Set() };
  const target = entity?.toLowerCase();
  for (const value of roleValues(mapping, payload)) {
    let grant = mapping.roles.get(value);
    let only: string | undefined;
    if (!grant) {
      const colon = value.lastIndexOf(':');
      if (colon <= 0) continue;
      grant = mapping.roles.get(value.slice(0, colon));
      only = value.slice(colon + 1).toLowerCase();
      if (!grant || !only) continue;
    }
    decision.anyRole = true;
    const namespaceWide = grant.hybridConnections === undefined && only === undefined;
    const coversEntity = target !== undefined && (grant.hybridConnections === undefined || grant.hybridConnections.includes(target)) && (only === undefined || only === target);
    for (const right of grant.rights) {
      if (namespaceWide) decision.namespaceRights.add(right);
      if (namespaceWide || coversEntity) decision.rights.add(right);
    }
  }
  return decision;
}

/** At most this many role values are looked at per token. */
const MAX_ROLE_VALUES = 500;

function roleValues(mapping: RoleMapping, payload: Record<string, unknown>): string[] {
  const values: string[] = [];
  for (const claim of mapping.claims) {
    if (!Object.prototype.hasOwnProperty.call(payload, claim)) continue;
    const v = payload[claim];
    if (typeof v === 'string') values.push(...v.split(' ').filter((s) => s.length > 0));
    else if (Array.isArray(v)) for (const item of v) if (typeof item === 'string') values.push(item);
    if (values.length >= MAX_ROLE_VALUES) break;
  }
  return values.slice(0, MAX_ROLE_VALUES);
}

function object(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new RoleMappingError(`${where} must be a mapping`);
  return value as Record<string, unknown>;
}

function checkKeys(value: Record<string, unknown>, allowed: string[], where: string): void {
  for (const key of Object.keys(value)) if (!allowed.includes(key)) throw new RoleMappingError(`${where}: unknown setting "${key.slice(0, 64)}" (known: ${allowed.join(', ')})`);
}

function stringList(value: unknown, where: string, valid: (s: string) => boolean = () => true): string[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw new RoleMappingError(`${where} must be a list of strings`);
  for (const v of value as string[]) if (!valid(v)) throw new RoleMappingError(`${where}: "${v.slice(0, 100)}" is not valid`);
  return value as string[];
}
