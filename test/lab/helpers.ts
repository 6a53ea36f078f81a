/** Shared by the lab's tests: the skip reason, and what is left of a lab on this machine. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { labUnavailable } from '../../lab/index.js';

/** Passed as `skip` to every lab test: a reason where the kernel has no netns or we are not root. */
export const skipLab: string | false = labUnavailable() ?? false;

/** Namespaces whose names start with `prefix`. */
export function namespacesOf(prefix: string): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n.startsWith(prefix));
}

/** Whether a process runs (a zombie does not count). */
export function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}
