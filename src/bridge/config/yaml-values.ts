import { isMap, isScalar, isSeq, type Node, type Scalar } from 'yaml';
import type { LocalAddressCheck } from './addresses.js';
import { BridgeConfigError, ValueError } from './config-error.js';
import { unquote } from './names.js';
import { parseBooleanText, parseIntegerText } from './values.js';

/** How YAML nodes are read: where they are (for messages), their source text, the local-address check. */
export interface YamlContext {
  /** `file.yml:3:5`, or `-o LocalForward` for an override. */
  where(node: Node | null | undefined): string;
  /** The text node ranges point into, to read plain scalars exactly as written. */
  text: string;
  isLocal: LocalAddressCheck;
}

export interface MappingValue {
  /** The canonical key name (`BindPort`), whatever case the file used. */
  key: string;
  keyNode: Node;
  /** Undefined for `Key:` with nothing after it, which means "not set". */
  value: Node | undefined;
}

/**
 * The entries of a mapping, keys matched case-insensitively against `known`. Unknown keys and keys
 * given twice (in any case) are errors that point at the key.
 */
export function readMapping(node: Node, known: readonly string[], what: string, ctx: YamlContext): Map<string, MappingValue> {
  if (!isMap(node)) throw new BridgeConfigError(`${ctx.where(node)}: ${what} must be a mapping of Key: value lines`);
  const out = new Map<string, MappingValue>();
  for (const pair of node.items) {
    const keyNode = pair.key as Node;
    if (!isScalar(keyNode) || typeof keyNode.value !== 'string') {
      throw new BridgeConfigError(`${ctx.where(keyNode)}: ${what} keys must be plain names`);
    }
    const written = keyNode.value;
    const key = canonicalKey(written, known, ctx.where(keyNode), what);
    if (out.has(key)) throw new BridgeConfigError(`${ctx.where(keyNode)}: key "${written}" appears twice in ${what}`);
    const value = pair.value as Node | null;
    out.set(key, { key, keyNode, value: value == null || (isScalar(value) && value.value === null) ? undefined : value });
  }
  return out;
}

/** The canonical spelling of a key written in any case, or an error naming the unknown key. */
export function canonicalKey(written: string, known: readonly string[], where: string, what: string): string {
  const key = known.find((k) => k.toLowerCase() === written.toLowerCase());
  if (!key) throw new BridgeConfigError(`${where}: unknown key "${written}" in ${what}${suggestion(written, known)}`);
  return key;
}

/** A scalar as text: strings with surrounding quotes removed, numbers and booleans as written. */
export function readString(entry: MappingValue, ctx: YamlContext): string {
  const node = scalarNode(entry, ctx);
  if (typeof node.value === 'string') return unquote(node.value);
  return plainText(node, ctx) ?? String(node.value);
}

export function readInteger(entry: MappingValue, ctx: YamlContext): number {
  const node = scalarNode(entry, ctx);
  if (typeof node.value === 'number' && Number.isInteger(node.value)) return node.value;
  const parsed = typeof node.value === 'string' ? parseIntegerText(unquote(node.value)) : undefined;
  if (parsed !== undefined) return parsed;
  throw new BridgeConfigError(`${ctx.where(entry.value)}: ${entry.key} must be a whole number, not "${shortText(entry, ctx)}"`);
}

export function readBoolean(entry: MappingValue, ctx: YamlContext): boolean {
  const node = scalarNode(entry, ctx);
  if (typeof node.value === 'boolean') return node.value;
  const parsed = typeof node.value === 'string' ? parseBooleanText(unquote(node.value)) : undefined;
  if (parsed !== undefined) return parsed;
  throw new BridgeConfigError(`${ctx.where(entry.value)}: ${entry.key} must be true or false, not "${shortText(entry, ctx)}"`);
}

/** Items of a list value; a single mapping counts as a list of one. */
export function readList(entry: MappingValue, ctx: YamlContext): Node[] {
  const node = entry.value;
  if (node === undefined) return [];
  if (isSeq(node)) return node.items as Node[];
  if (isMap(node)) return [node];
  throw new BridgeConfigError(`${ctx.where(node)}: ${entry.key} must be a list of entries`);
}

/** Runs a value check, turning its ValueError into an error at the value's position. */
export function checked<T>(entry: MappingValue, ctx: YamlContext, check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof ValueError) {
      const message = err.message.startsWith(`${entry.key} `) ? err.message : `${entry.key}: ${err.message}`;
      throw new BridgeConfigError(`${ctx.where(entry.value ?? entry.keyNode)}: ${message}`);
    }
    throw err;
  }
}

function scalarNode(entry: MappingValue, ctx: YamlContext): Scalar {
  const node = entry.value;
  if (node === undefined) throw new BridgeConfigError(`${ctx.where(entry.keyNode)}: ${entry.key} has no value`);
  if (!isScalar(node)) throw new BridgeConfigError(`${ctx.where(node)}: ${entry.key} must be a single value, not a ${isSeq(node) ? 'list' : 'mapping'}`);
  return node;
}

function plainText(node: Node, ctx: YamlContext): string | undefined {
  const range = node.range;
  if (!range || !isScalar(node) || node.type !== 'PLAIN') return undefined;
  const text = ctx.text.slice(range[0], range[1]).trim();
  return text || undefined;
}

/** The offending value for a type error, cut short. */
function shortText(entry: MappingValue, ctx: YamlContext): string {
  const node = entry.value;
  if (!node || !isScalar(node)) return node && isSeq(node) ? '[list]' : '{mapping}';
  const text = plainText(node, ctx) ?? String(node.value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

function suggestion(written: string, known: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of known) {
    const d = editDistance(written.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best ? `; did you mean "${best}"?` : `; known keys: ${known.join(', ')}`;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}
