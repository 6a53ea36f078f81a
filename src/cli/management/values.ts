import type { KeyType } from '../../client/management-client.js';
import { isValidEntityPath } from '../../protocol/relay-endpoint.js';
import { RULE_NAME_PATTERN } from '../../relay/namespace-model.js';
import { fail } from '../errors.js';

const RIGHTS = ['Listen', 'Send', 'Manage'] as const;

/** `true`/`false` as az takes them (also yes/no), case-insensitive. */
export function parseBoolean(text: string, flag: string): boolean {
  const value = text.trim().toLowerCase();
  if (value === 'true' || value === 'yes') return true;
  if (value === 'false' || value === 'no') return false;
  fail(`${flag} must be true or false, not "${text}"`);
}

/** `--rights Listen Send` (az's form) or `--rights Listen,Send`; names are case-insensitive. */
export function parseRights(values: string[] | undefined): string[] {
  const words = (values ?? []).flatMap((v) => v.split(/[\s,]+/)).filter((w) => w.length > 0);
  if (words.length === 0) fail('--rights needs at least one of Listen, Send, Manage');
  const rights = new Set<string>();
  for (const word of words) {
    const right = RIGHTS.find((r) => r.toLowerCase() === word.toLowerCase());
    if (!right) fail(`unknown right "${word}" in --rights; use Listen, Send and/or Manage`);
    rights.add(right);
  }
  return RIGHTS.filter((r) => rights.has(r));
}

export function parseKeyType(text: string): KeyType {
  const value = text.trim().toLowerCase();
  if (value === 'primarykey' || value === 'primary') return 'PrimaryKey';
  if (value === 'secondarykey' || value === 'secondary') return 'SecondaryKey';
  fail(`--key must be PrimaryKey or SecondaryKey, not "${text}"`);
}

/** Rejects empty names early, with the flag's name, instead of an obscure 404 or 405 from the relay. */
export function requireName(value: string, flag: string): string {
  const name = value.trim().replace(/^\/+|\/+$/g, '');
  if (!name) fail(`${flag} must not be empty`);
  return name;
}

/** A hybrid connection name the relay would accept, checked before the call (exit 2, not a 400 from the relay). */
export function requireHycoName(value: string, flag: string): string {
  const name = requireName(value, flag);
  if (!isValidEntityPath(name)) fail(`${flag} "${name}" is not a valid hybrid connection name: letters, digits, '.', '_', '-', '/' between segments, at most 260 characters`);
  return name;
}

/** An authorization rule name: a letter or digit, then letters, digits, '.', '_', '-' (at most 256). */
export function requireRuleName(value: string, flag: string): string {
  const name = requireName(value, flag);
  if (!RULE_NAME_PATTERN.test(name)) fail(`${flag} "${name}" is not a valid rule name: a letter or digit, then letters, digits, '.', '_' or '-', at most 256 characters`);
  return name;
}
