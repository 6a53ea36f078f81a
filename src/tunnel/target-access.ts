/**
 * Whether a listener may reach a target, and reaching it. The allowlist is matched against the
 * target as the sender wrote it; with `--allow-resolve` a host name target that no entry names is
 * resolved once and matched by its addresses (and hostname entries by theirs), and the tunnel then
 * dials one of the addresses that were allowed, never the name again: a second DNS answer could
 * point somewhere else.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP, type Socket } from 'node:net';
import { dialTcp, DialError } from '../forwarding/dial.js';
import { ConnectTimeoutError } from '../forwarding/dial-errors.js';
import { formatTarget, type TargetAddress } from '../protocol/aztunnel-envelope.js';
import type { Allowlist } from './allowlist.js';
import { clearTimer } from '../util/clear-timer.js';

export type Lookup = (hostname: string) => Promise<readonly string[]>;

/** Every address the system resolver gives for a name, in its order. */
export const systemLookup: Lookup = async (hostname) => (await dnsLookup(hostname, { all: true, verbatim: true })).map((a) => a.address);

export type AccessDecision =
  | { allowed: true; dialHosts: readonly string[]; rule: string | undefined }
  | { allowed: false; detail: string };

export interface AccessOptions {
  /** Match names by their addresses too (`--allow-resolve`). */
  resolveNames: boolean;
  lookup: Lookup;
  /** Bound on the DNS lookup. */
  timeoutMs: number;
}

export async function authorizeTarget(allowlist: Allowlist, target: TargetAddress, options: AccessOptions): Promise<AccessDecision> {
  const { host, port } = target;
  const direct = allowlist.match(host, port);
  if (direct) return { allowed: true, dialHosts: [host], rule: direct.entry?.text };
  const refused = (detail: string): AccessDecision => ({ allowed: false, detail });
  const text = formatTarget(host, port);
  if (!options.resolveNames) return refused(`no --allow entry matches ${text}`);
  // Every DNS answer involved (the target's, hostname entries') must come within the timeout.
  const bounded = <T>(work: Promise<T>, what: string) => withDeadline(work, options.timeoutMs, `${what} timed out after ${options.timeoutMs} ms`);
  try {
    if (isIP(host)) {
      const byEntryName = await bounded(allowlist.check(host, port), 'resolving the --allow host names');
      return byEntryName ? { allowed: true, dialHosts: [host], rule: byEntryName.entry?.text } : refused(`no --allow entry matches ${text}`);
    }
    let addresses: readonly string[];
    try {
      addresses = await bounded(options.lookup(host), `resolving ${host}`);
    } catch (err) {
      return refused(`no --allow entry names ${text}, and its addresses are unknown (${(err as Error).message})`);
    }
    const found = await bounded(allowlist.check(host, port, addresses), 'resolving the --allow host names');
    if (!found || !found.dialAddresses || found.dialAddresses.length === 0) {
      return refused(`no --allow entry matches ${text} or its addresses ${addresses.join(', ') || '(none)'}`);
    }
    return { allowed: true, dialHosts: found.dialAddresses, rule: found.entry?.text };
  } catch (err) {
    return refused(`no --allow entry matches ${text} (${(err as Error).message})`);
  }
}

export interface DialTargetOptions {
  port: number;
  /** For the whole attempt, across all hosts. */
  timeoutMs: number;
  keepAliveMs: number;
}

/** Connects to the first of `hosts` that answers within the overall timeout; throws the last DialError. */
export async function dialFirstReachable(hosts: readonly string[], options: DialTargetOptions): Promise<Socket> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: DialError | undefined;
  for (const host of hosts) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    try {
      return await dialTcp({ host, port: options.port, timeoutMs: remaining, keepAliveMs: options.keepAliveMs });
    } catch (err) {
      if (!(err instanceof DialError)) throw err;
      lastError = err;
    }
  }
  if (lastError) throw lastError;
  const target = formatTarget(hosts[0] ?? '?', options.port);
  const timeout = new ConnectTimeoutError(target, options.timeoutMs);
  throw new DialError(target, 'timeout', timeout);
}

function withDeadline<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]).finally(() => clearTimer(timer));
}
