/** Resident memory from /proc: VmRSS of one process, or of a process and all its descendants. */
import { readFileSync, readdirSync } from 'node:fs';

export function rssKiB(pid: number): number | undefined {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+)\s+kB/m);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

export function childrenOf(): Map<number, number[]> {
  const map = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // /proc/PID/stat: "pid (comm) state ppid ..."; comm may contain spaces and parentheses.
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = map.get(ppid) ?? [];
      list.push(Number(name));
      map.set(ppid, list);
    } catch {
      // the process went away
    }
  }
  return map;
}

/** VmRSS summed over `pid` and its descendants (sshd forks a process per connection). */
export function treeRssKiB(pid: number): number | undefined {
  const root = rssKiB(pid);
  if (root === undefined) return undefined;
  const children = childrenOf();
  let total = 0;
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop()!;
    total += rssKiB(p) ?? 0;
    stack.push(...(children.get(p) ?? []));
  }
  return total;
}

/** Every descendant of `pid` now alive. */
export function descendantsOf(pid: number): number[] {
  const children = childrenOf();
  const out: number[] = [];
  const stack = [...(children.get(pid) ?? [])];
  while (stack.length > 0) {
    const p = stack.pop()!;
    out.push(p);
    stack.push(...(children.get(p) ?? []));
  }
  return out;
}
