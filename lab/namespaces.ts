/**
 * The lab's network namespaces on this machine: their names, the processes inside them, and their
 * removal. Every lab namespace is called `hyblab-<owner pid>-<random>-<node>`, so parallel labs
 * (other test files, other engineers' runs) never collide and a lab whose owner died can be found
 * and removed by anyone (cleanStaleLabs).
 */
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { IP, run, runSync } from './system.js';

export const LAB_PREFIX = 'hyblab';

/** A fresh lab id: `hyblab-<pid>-<4 hex digits>`. */
export function newLabId(): string {
  return `${LAB_PREFIX}-${process.pid}-${randomBytes(2).toString('hex')}`;
}

function parseList(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter(Boolean);
}

/** Every namespace `ip netns` knows whose name starts with `prefix`. */
export async function namespacesWithPrefix(prefix: string): Promise<string[]> {
  return parseList(await run(IP, ['netns', 'list'])).filter((n) => n.startsWith(prefix));
}

function namespacesWithPrefixSync(prefix: string): string[] {
  return parseList(runSync(IP, ['netns', 'list']) ?? '').filter((n) => n.startsWith(prefix));
}

/** Processes inside a namespace (`ip netns pids`); [] when it is gone. */
export async function pidsIn(netns: string): Promise<number[]> {
  try {
    return parsePids(await run(IP, ['netns', 'pids', netns]));
  } catch {
    return [];
  }
}

function parsePids(text: string): number[] {
  return text.split(/\s+/).filter((p) => /^\d+$/.test(p)).map(Number).filter((p) => p !== process.pid);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** Whether `pid` still runs (a zombie has already left its namespaces). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/**
 * Stops every process in `names` and the `also` pids (SIGTERM, then SIGKILL after `graceMs`), then
 * deletes the namespaces (their veths, addresses and iptables rules go with them).
 */
export async function removeNamespaces(names: readonly string[], graceMs = 1000, also: readonly number[] = []): Promise<void> {
  const pids = [...new Set([...(await Promise.all(names.map(pidsIn))).flat(), ...also])];
  for (const pid of pids) signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  for (const pid of pids.filter(alive)) signal(pid, 'SIGKILL');
  const killed = Date.now() + 2000;
  while (pids.some(alive) && Date.now() < killed) await new Promise((r) => setTimeout(r, 20));
  await Promise.all(names.map((n) => run(IP, ['netns', 'delete', n]).catch(() => undefined)));
}

/** removeNamespaces() for the process 'exit' hook: SIGKILL at once, then delete. */
export function removeNamespacesSync(names: readonly string[]): void {
  for (const name of names) for (const pid of parsePids(runSync(IP, ['netns', 'pids', name]) ?? '')) signal(pid, 'SIGKILL');
  for (const name of names) runSync(IP, ['netns', 'delete', name]);
}

/** Removes every namespace of the lab `labId`, synchronously. */
export function removeLabSync(labId: string): void {
  removeNamespacesSync(namespacesWithPrefixSync(`${labId}-`));
}

/** The owner pid in a lab namespace's name, or undefined for a name that is not a lab's. */
export function ownerOf(netns: string): number | undefined {
  const m = netns.match(new RegExp(`^${LAB_PREFIX}-(\\d+)-[0-9a-f]{4}-`));
  return m ? Number(m[1]) : undefined;
}

/**
 * Removes the namespaces (and the processes in them) of every lab whose owner process no longer
 * runs: what a lab leaves behind when its owner was killed and its reaper too. Returns the names removed.
 */
export async function cleanStaleLabs(): Promise<string[]> {
  const stale = (await namespacesWithPrefix(`${LAB_PREFIX}-`)).filter((n) => {
    const owner = ownerOf(n);
    return owner !== undefined && !alive(owner);
  });
  if (stale.length) await removeNamespaces(stale, 200);
  return stale;
}
