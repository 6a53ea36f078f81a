/**
 * The listener's `--allow` list: which `host:port` targets a sender may reach. Entries are validated
 * when the listener starts, so a typo is an error instead of a rule that silently never matches.
 *
 *   *                      any target
 *   host:port  host:*      a host name (case-insensitive, trailing dot ignored) or IP literal
 *   *:port                 any host on that port
 *   10.0.0.0/8:22          an IPv4 network
 *   [fd00::/8]:*  [::1]:22 IPv6 networks and addresses, always bracketed
 *   host:8000-8100         a port range
 *
 * IP comparison goes through node's BlockList, so IPv6 spellings and IPv4-mapped IPv6 addresses
 * (::ffff:10.0.0.5) compare as the same address. DNS stays outside: the runtime passes the addresses
 * it resolved for a target (`matchResolved`) and, for hostname entries, a resolver (`resolveEntries`).
 * An empty list allows every target (the runtime warns about it).
 */
import { BlockList, isIP } from 'node:net';
import { hostProblem } from '../protocol/aztunnel-envelope.js';

export type HostPattern =
  | { kind: 'any' }
  | { kind: 'name'; name: string }
  | { kind: 'address'; address: string }
  | { kind: 'network'; address: string; prefix: number };

export type PortPattern = { kind: 'any' } | { kind: 'range'; from: number; to: number };

export interface AllowEntry {
  /** The entry as the user wrote it, for logs. */
  text: string;
  host: HostPattern;
  port: PortPattern;
}

export interface AllowMatch {
  /** The first entry that allowed the target; undefined when the allowlist is empty. */
  entry: AllowEntry | undefined;
  /**
   * How it matched: the target itself (`target`), an address the target host resolved to
   * (`resolved-address`), an address a hostname entry resolved to (`entry-address`), or no list.
   */
  via: 'target' | 'resolved-address' | 'entry-address' | 'empty-allowlist';
  /**
   * When the decision rested on resolved addresses, the ones that are allowed. The runtime must dial
   * one of these and not resolve the name again, or DNS could answer differently the second time.
   */
  dialAddresses?: readonly string[];
}

export type Resolver = (hostname: string) => Promise<readonly string[]>;

export interface AllowlistOptions {
  /** Let hostname entries also match the addresses they resolve to (cached for `ttlMs`). */
  resolveEntries?: { resolve: Resolver; ttlMs?: number; now?: () => number };
}

export class AllowlistError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
    this.name = 'AllowlistError';
  }
}

export class Allowlist {
  private readonly matchers: ((ip: string) => boolean)[];
  private readonly entryCache: ResolvedNameCache | undefined;

  private constructor(readonly entries: readonly AllowEntry[], options: AllowlistOptions) {
    this.matchers = entries.map(addressMatcher);
    const resolveEntries = options.resolveEntries;
    this.entryCache = resolveEntries && new ResolvedNameCache(resolveEntries.resolve, resolveEntries.ttlMs ?? 60_000, resolveEntries.now ?? Date.now);
  }

  /** Parses every entry; throws one AllowlistError listing each invalid entry. */
  static parse(texts: readonly string[], options: AllowlistOptions = {}): Allowlist {
    const entries: AllowEntry[] = [];
    const problems: string[] = [];
    for (const text of texts) {
      try {
        entries.push(parseAllowEntry(text));
      } catch (err) {
        if (!(err instanceof AllowlistError)) throw err;
        problems.push(...err.problems);
      }
    }
    if (problems.length > 0) throw new AllowlistError(problems);
    return new Allowlist(entries, options);
  }

  get isEmpty(): boolean {
    return this.entries.length === 0;
  }

  /** Matches the target as given: host names by name, IP literals against address and network entries. */
  match(host: string, port: number): AllowMatch | undefined {
    if (this.isEmpty) return { entry: undefined, via: 'empty-allowlist' };
    const ip = isIP(host) ? host : undefined;
    const name = ip ? undefined : normaliseName(host);
    const index = this.entries.findIndex((entry, i) => {
      if (!portMatches(entry.port, port)) return false;
      if (entry.host.kind === 'any') return true;
      if (entry.host.kind === 'name') return entry.host.name === name;
      return ip !== undefined && this.matchers[i]!(ip);
    });
    return index < 0 ? undefined : { entry: this.entries[index], via: 'target' };
  }

  /**
   * Like `match`, and when the host name itself is not allowed, checks the addresses the runtime
   * resolved it to against the address and network entries. `dialAddresses` lists the allowed ones.
   */
  matchResolved(host: string, port: number, resolvedAddresses: readonly string[]): AllowMatch | undefined {
    const addresses = resolvedAddresses.filter((a) => isIP(a) !== 0);
    const direct = this.match(host, port);
    if (direct) return isIP(host) ? direct : { ...direct, dialAddresses: addresses };
    let first: AllowEntry | undefined;
    const allowed: string[] = [];
    for (const address of addresses) {
      const index = this.entries.findIndex((entry, i) => entry.host.kind !== 'name' && portMatches(entry.port, port) && this.matchers[i]!(address));
      if (index < 0) continue;
      first ??= this.entries[index];
      allowed.push(address);
    }
    return first ? { entry: first, via: 'resolved-address', dialAddresses: allowed } : undefined;
  }

  /**
   * The full check: `matchResolved` (or `match` without resolved addresses), then, if enabled,
   * hostname entries by the addresses they resolve to. An IP target, or the addresses a host name
   * target resolved to, must be among them.
   */
  async check(host: string, port: number, resolvedAddresses?: readonly string[]): Promise<AllowMatch | undefined> {
    const found = resolvedAddresses ? this.matchResolved(host, port, resolvedAddresses) : this.match(host, port);
    if (found || !this.entryCache) return found;
    const targetAddresses = isIP(host) ? [host] : (resolvedAddresses ?? []).filter((a) => isIP(a) !== 0);
    if (targetAddresses.length === 0) return undefined;
    for (const entry of this.entries) {
      if (entry.host.kind !== 'name' || !portMatches(entry.port, port)) continue;
      const entryAddresses = await this.entryCache.lookup(entry.host.name);
      const allowed = targetAddresses.filter((a) => entryAddresses.check(a, familyOf(a)));
      if (allowed.length > 0) return { entry, via: 'entry-address', dialAddresses: allowed };
    }
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing one entry

export function parseAllowEntry(raw: string): AllowEntry {
  const text = raw.trim();
  const fail = (reason: string): never => {
    throw new AllowlistError([`invalid --allow entry ${JSON.stringify(raw)}: ${reason}`]);
  };
  if (text === '') fail('the entry is empty');
  if (text === '*') return { text, host: { kind: 'any' }, port: { kind: 'any' } };

  let hostText: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) fail('missing "]"');
    hostText = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (rest === '') fail(`no port; write [${hostText}]:PORT or [${hostText}]:*`);
    if (!rest.startsWith(':')) fail(`expected ":" and a port after "]"`);
    portText = rest.slice(1);
    const base = hostText.split('/')[0]!;
    if (!base.includes(':')) fail('brackets are only for IPv6 addresses and networks');
    if (!base.includes('%') && isIP(base) !== 6) fail(`"${hostText}" is not an IPv6 address or network`);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) fail(`no port; write ${text}:PORT or ${text}:* (or * alone for any target)`);
    hostText = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (hostText.includes(':')) fail(`IPv6 addresses and networks must be bracketed, e.g. [${hostText}]:${portText}`);
  }

  const port = parsePortPattern(portText);
  if (typeof port === 'string') return fail(port);
  const host = parseHostPattern(hostText);
  if (typeof host === 'string') return fail(host);
  return { text, host, port };
}

/** A pattern, or why the text is not one. */
export function parsePortPattern(text: string): PortPattern | string {
  if (text === '*') return { kind: 'any' };
  const m = /^([0-9]{1,5})(?:-([0-9]{1,5}))?$/.exec(text);
  const bad = `port "${text}" is not a number from 1 to 65535, a range like 8000-8100, or *`;
  if (!m) return bad;
  const from = Number(m[1]);
  const to = m[2] === undefined ? from : Number(m[2]);
  if (from < 1 || from > 65535 || to < 1 || to > 65535) return bad;
  if (from > to) return `port range ${text} is reversed; write ${to}-${from}`;
  return { kind: 'range', from, to };
}

function parseHostPattern(text: string): HostPattern | string {
  if (text === '*') return { kind: 'any' };
  if (text === '') return 'the host is empty; use * for any host';
  if (text.includes('%')) return 'IPv6 zone identifiers are not supported';
  const slash = text.indexOf('/');
  if (slash >= 0) {
    const base = text.slice(0, slash);
    const prefixText = text.slice(slash + 1);
    const family = isIP(base);
    if (family === 0) return `"${base}" is not an IPv4 or IPv6 network address`;
    const maxPrefix = family === 4 ? 32 : 128;
    if (!/^[0-9]{1,3}$/.test(prefixText) || Number(prefixText) > maxPrefix) {
      return `prefix length "${prefixText}" is not a number from 0 to ${maxPrefix}`;
    }
    return { kind: 'network', address: canonicalAddress(base), prefix: Number(prefixText) };
  }
  if (isIP(text)) return { kind: 'address', address: canonicalAddress(text) };
  if (text.includes('*')) return `"${text}": * stands for the whole host or port; partial wildcards are not supported`;
  const problem = hostProblem(text);
  return problem ?? { kind: 'name', name: normaliseName(text) };
}

// ---------------------------------------------------------------------------------------------
// Matching helpers

export function portMatches(pattern: PortPattern, port: number): boolean {
  return pattern.kind === 'any' || (port >= pattern.from && port <= pattern.to);
}

function addressMatcher(entry: AllowEntry): (ip: string) => boolean {
  const host = entry.host;
  if (host.kind !== 'address' && host.kind !== 'network') return () => false;
  const list = new BlockList();
  const family = isIP(host.address) === 4 ? 'ipv4' : 'ipv6';
  if (host.kind === 'address') list.addAddress(host.address, family);
  else list.addSubnet(host.address, host.prefix, family);
  return (ip) => list.check(ip, familyOf(ip));
}

function familyOf(ip: string): 'ipv4' | 'ipv6' {
  return isIP(ip) === 4 ? 'ipv4' : 'ipv6';
}

function normaliseName(name: string): string {
  return (name.endsWith('.') ? name.slice(0, -1) : name).toLowerCase();
}

/** IPv6 in RFC 5952 form (the URL parser compresses and lowercases it), IPv4 unchanged. */
function canonicalAddress(ip: string): string {
  return isIP(ip) === 6 ? new URL(`http://[${ip}]/`).hostname.slice(1, -1) : ip;
}

/** Addresses per host name, single-flight and kept for a TTL; failed lookups are not kept. */
class ResolvedNameCache {
  private readonly entries = new Map<string, { expires: number; addresses: Promise<BlockList> }>();

  constructor(
    private readonly resolve: Resolver,
    private readonly ttlMs: number,
    private readonly now: () => number,
  ) {}

  lookup(name: string): Promise<BlockList> {
    const cached = this.entries.get(name);
    if (cached && cached.expires > this.now()) return cached.addresses;
    const addresses = this.resolve(name).then(
      (found) => {
        const list = new BlockList();
        for (const a of found) if (isIP(a)) list.addAddress(a, familyOf(a));
        return list;
      },
      () => {
        if (this.entries.get(name)?.addresses === addresses) this.entries.delete(name);
        return new BlockList();
      },
    );
    this.entries.set(name, { expires: this.now() + this.ttlMs, addresses });
    return addresses;
  }
}
