/**
 * A namespace's client IP rules, as Azure Relay's IP firewall: a default action and an ordered list
 * of rules (an address or a CIDR range, IPv4 or IPv6, and Allow or Deny); the first rule that
 * matches the client's address decides, and the default action decides when none does.
 *
 * Every address lives in one 128-bit space: an IPv4 address is its IPv4-mapped IPv6 form
 * (::ffff:a.b.c.d), as Node's BlockList sees it. So `10.0.0.0/8` and `::ffff:10.0.0.0/104` are the
 * same rule, a client that arrives as `::ffff:10.1.2.3` (a dual-stack socket) matches IPv4 rules,
 * and `::/0` covers every client.
 */
import { isIPv4, isIPv6 } from 'node:net';

export type IpAction = 'Allow' | 'Deny';
export const IP_ACTIONS: readonly IpAction[] = ['Allow', 'Deny'];

export interface IpRule {
  /** An address (`10.1.2.3`, `2001:db8::1`) or a network (`10.0.0.0/8`, `2001:db8::/32`), in canonical form. */
  ipMask: string;
  action: IpAction;
}

/** What the namespace document stores (absent in documents written before IP rules existed: allow all). */
export interface NetworkRuleSet {
  defaultAction: IpAction;
  ipRules: IpRule[];
}

/** Event Hubs and Service Bus document 128 IP rules per namespace; the same limit holds here. */
export const MAX_IP_RULES = 128;
/** Longer than any address or network can be written (an IPv6 address with an IPv4 tail and /128). */
const MAX_MASK_LENGTH = 64;

export const ALLOW_ALL: NetworkRuleSet = Object.freeze({ defaultAction: 'Allow', ipRules: Object.freeze([]) as unknown as IpRule[] });

/** A rule set change that cannot be made; `status` is the HTTP status the management API answers with. */
export class IpRuleError extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = 'IpRuleError';
  }
}

/** Which rule decided (1-based position in the list) or 'default'. */
export interface AddressDecision {
  allowed: boolean;
  rule: number | 'default';
}

const V4_MAPPED = 0xffffn << 32n;
const ALL_BITS = (1n << 128n) - 1n;

/** An address as a 128-bit number (IPv4 mapped), or undefined when the text is not an IP address. A zone (`%eth0`) is ignored. */
export function addressValue(text: string): bigint | undefined {
  if (text.length > MAX_MASK_LENGTH) return undefined;
  const percent = text.indexOf('%');
  const address = percent >= 0 ? text.slice(0, percent) : text;
  if (isIPv4(address)) return V4_MAPPED | BigInt(ipv4Number(address));
  if (isIPv6(address)) return ipv6Value(address);
  return undefined;
}

/** a.b.c.d (already checked by isIPv4) as an unsigned 32-bit number. */
function ipv4Number(text: string): number {
  let value = 0;
  for (const part of text.split('.')) value = value * 256 + Number(part);
  return value;
}

/** An IPv6 address (already checked by isIPv6, without a zone) as a 128-bit number. */
function ipv6Value(text: string): bigint {
  let source = text;
  const lastColon = source.lastIndexOf(':');
  if (source.indexOf('.', lastColon) >= 0) {
    // An IPv4 tail (::ffff:10.1.2.3) stands for the last two groups.
    const v4 = ipv4Number(source.slice(lastColon + 1));
    source = `${source.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = source.split('::');
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length > 1 && halves[1] ? halves[1].split(':') : [];
  const groups = [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
  let value = 0n;
  for (const group of groups) value = (value << 16n) | BigInt(parseInt(group, 16));
  return value;
}

/** A parsed rule mask: the network (host bits cleared) and its prefix length in the 128-bit space. */
export interface IpNetwork {
  network: bigint;
  prefix: number;
  /** The canonical spelling: a bare address for a single address, else network/prefix; IPv4 as IPv4. */
  text: string;
}

const MASK_HELP = 'use an IPv4 or IPv6 address or a CIDR range such as 10.0.0.0/8 or 2001:db8::/32';

/** Parses `10.0.0.0/8`, `10.1.2.3`, `2001:db8::/32`, `::ffff:10.0.0.0/104`; throws IpRuleError with a reason. */
export function parseIpMask(input: unknown): IpNetwork {
  if (typeof input !== 'string') throw new IpRuleError(`ipMask must be a string; ${MASK_HELP}`);
  const text = input.trim();
  if (text.length === 0) throw new IpRuleError(`the IP mask is empty; ${MASK_HELP}`);
  if (text.length > MAX_MASK_LENGTH) throw new IpRuleError(`the IP mask is too long; ${MASK_HELP}`);
  const slash = text.indexOf('/');
  const base = slash < 0 ? text : text.slice(0, slash);
  const shown = JSON.stringify(text);
  if (base.includes('%')) throw new IpRuleError(`${shown}: IPv6 zone identifiers (%...) are not supported in IP rules`);
  const v4 = isIPv4(base);
  if (!v4 && !isIPv6(base)) throw new IpRuleError(`${shown} is not an IP address or network; ${MASK_HELP}`);
  const max = v4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const digits = text.slice(slash + 1);
    if (!isDecimal(digits) || Number(digits) > max) throw new IpRuleError(`${shown}: the prefix length must be a number from 0 to ${max}`);
    prefix = Number(digits);
  }
  const value = v4 ? V4_MAPPED | BigInt(ipv4Number(base)) : ipv6Value(base);
  const prefix128 = v4 ? prefix + 96 : prefix;
  const network = value & maskOf(prefix128);
  return { network, prefix: prefix128, text: formatNetwork(network, prefix128) };
}

/** Allow or Deny, any case; throws IpRuleError otherwise. */
export function parseIpAction(input: unknown, what = 'action'): IpAction {
  const action = typeof input === 'string' ? IP_ACTIONS.find((a) => a.toLowerCase() === input.trim().toLowerCase()) : undefined;
  if (!action) throw new IpRuleError(`${what} must be Allow or Deny${typeof input === 'string' ? `, not ${JSON.stringify(input.slice(0, 32))}` : ''}`);
  return action;
}

/** Checks and normalises a whole rule set (masks canonical, actions spelled as Azure does). */
export function normalizeRuleSet(input: { defaultAction: unknown; ipRules: unknown }): NetworkRuleSet {
  const defaultAction = parseIpAction(input.defaultAction, 'defaultAction');
  if (!Array.isArray(input.ipRules)) throw new IpRuleError('ipRules must be a list of {"ipMask": ..., "action": "Allow"|"Deny"}');
  if (input.ipRules.length > MAX_IP_RULES) throw new IpRuleError(`at most ${MAX_IP_RULES} IP rules per namespace (got ${input.ipRules.length})`);
  const seen = new Set<string>();
  const ipRules = input.ipRules.map((rule: unknown): IpRule => {
    if (typeof rule !== 'object' || rule === null) throw new IpRuleError('each IP rule must be an object {"ipMask": ..., "action": "Allow"|"Deny"}');
    const { ipMask, action } = rule as Record<string, unknown>;
    const network = parseIpMask(ipMask);
    if (seen.has(network.text)) throw new IpRuleError(`${network.text} appears twice in the IP rules`);
    seen.add(network.text);
    return { ipMask: network.text, action: action === undefined ? 'Allow' : parseIpAction(action) };
  });
  return { defaultAction, ipRules };
}

interface CompiledRule {
  allow: boolean;
  network: bigint;
  mask: bigint;
  /** A rule within the IPv4-mapped range, as 32-bit numbers: IPv4 clients are matched without BigInt work. */
  v4: { network: number; mask: number } | undefined;
}

/**
 * A rule set made ready for the hot path: masks parsed once, then one AND and compare per rule
 * (32-bit for IPv4 clients against IPv4 rules, 128-bit otherwise).
 * A set that does not parse (a hand-edited document) refuses every client instead of failing open.
 */
export class CompiledRuleSet {
  private readonly rules: CompiledRule[];
  private readonly defaultAllow: boolean;
  /** No rules and Allow: nothing to look at. */
  readonly allowsAll: boolean;

  constructor(set: NetworkRuleSet) {
    let rules: CompiledRule[];
    let defaultAllow: boolean;
    try {
      const valid = normalizeRuleSet(set);
      rules = valid.ipRules.map((r) => compileRule(parseIpMask(r.ipMask), r.action === 'Allow'));
      defaultAllow = valid.defaultAction === 'Allow';
    } catch {
      rules = [];
      defaultAllow = false;
    }
    this.rules = rules;
    this.defaultAllow = defaultAllow;
    this.allowsAll = defaultAllow && rules.length === 0;
  }

  /** The decision for a client address as a socket reports it; an address that does not parse matches no rule. */
  decide(address: string | undefined): AddressDecision {
    if (this.allowsAll) return { allowed: true, rule: 'default' };
    if (address === undefined) return { allowed: false, rule: 'default' };
    const v4 = plainIpv4(address);
    let value: bigint | undefined;
    if (v4 === undefined) {
      value = addressValue(address);
      if (value === undefined) return { allowed: false, rule: 'default' };
    }
    for (let i = 0; i < this.rules.length; i++) {
      const rule = this.rules[i]!;
      const matches =
        v4 !== undefined && rule.v4 !== undefined ? ((v4 & rule.v4.mask) >>> 0) === rule.v4.network : ((value ??= addressValue(address)!) & rule.mask) === rule.network;
      if (matches) return { allowed: rule.allow, rule: i + 1 };
    }
    return { allowed: this.defaultAllow, rule: 'default' };
  }
}

function compileRule({ network, prefix }: IpNetwork, allow: boolean): CompiledRule {
  const mapped = prefix >= 96 && network >> 32n === 0xffffn;
  const v4Prefix = prefix - 96;
  const v4 = mapped ? { network: Number(network & 0xffffffffn), mask: v4Prefix === 0 ? 0 : (0xffffffff << (32 - v4Prefix)) >>> 0 } : undefined;
  return { allow, network, mask: maskOf(prefix), v4 };
}

/** a.b.c.d or ::ffff:a.b.c.d (how sockets report IPv4 clients) as a 32-bit number; undefined for anything else. */
function plainIpv4(address: string): number | undefined {
  if (isIPv4(address)) return ipv4Number(address);
  if (address.length > 7 && address.slice(0, 7).toLowerCase() === '::ffff:' && isIPv4(address.slice(7))) return ipv4Number(address.slice(7));
  return undefined;
}

function maskOf(prefix: number): bigint {
  return prefix === 0 ? 0n : (ALL_BITS << BigInt(128 - prefix)) & ALL_BITS;
}

function formatNetwork(network: bigint, prefix: number): string {
  const mapped = prefix >= 96 && network >> 32n === 0xffffn;
  const full = prefix === 128;
  if (mapped) {
    const v4 = Number(network & 0xffffffffn);
    const text = [v4 >>> 24, (v4 >>> 16) & 255, (v4 >>> 8) & 255, v4 & 255].join('.');
    return full ? text : `${text}/${prefix - 96}`;
  }
  const groups: string[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(((network >> shift) & 0xffffn).toString(16));
  // The URL parser writes IPv6 in its RFC 5952 form (zeros compressed, lowercase).
  const text = new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
  return full ? text : `${text}/${prefix}`;
}

function isDecimal(text: string): boolean {
  if (text.length === 0 || text.length > 3) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** The set with a rule for `ipMask` added at `position` (1-based; default: last). An existing rule for the same mask is an error. */
export function withIpRule(set: NetworkRuleSet, ipMask: unknown, action: unknown, position?: unknown): NetworkRuleSet {
  const mask = parseIpMask(ipMask).text;
  const rule: IpRule = { ipMask: mask, action: action === undefined ? 'Allow' : parseIpAction(action) };
  if (set.ipRules.some((r) => r.ipMask === mask)) throw new IpRuleError(`an IP rule for ${mask} already exists; remove it first to change its action or position`, 409);
  if (set.ipRules.length >= MAX_IP_RULES) throw new IpRuleError(`at most ${MAX_IP_RULES} IP rules per namespace`, 409);
  const last = set.ipRules.length + 1;
  if (position !== undefined && (typeof position !== 'number' || !Number.isInteger(position) || position < 1 || position > last)) {
    throw new IpRuleError(`position must be a whole number from 1 to ${last}`);
  }
  const ipRules = [...set.ipRules];
  ipRules.splice((position ?? last) - 1, 0, rule);
  return { ...set, ipRules };
}

/** The set without the rule for `ipMask` (any spelling of the same network); a missing rule is an error. */
export function withoutIpRule(set: NetworkRuleSet, ipMask: unknown): NetworkRuleSet {
  const mask = parseIpMask(ipMask).text;
  if (!set.ipRules.some((r) => r.ipMask === mask)) throw new IpRuleError(`there is no IP rule for ${mask}`, 404);
  return { ...set, ipRules: set.ipRules.filter((r) => r.ipMask !== mask) };
}
