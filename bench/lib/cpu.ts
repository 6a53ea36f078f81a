/** CPU time from /proc: per process (utime, stime) and for the whole machine. */
import { readFileSync } from 'node:fs';

export const TICKS_PER_SECOND = 100;

export interface Ticks {
  user: number;
  system: number;
}

function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** utime and stime (clock ticks) of one process. */
export function cpuTicks(pid: number): Ticks | undefined {
  const f = statFields(pid);
  return f ? { user: Number(f[11]), system: Number(f[12]) } : undefined;
}

/**
 * CPU ticks of a process tree: the root's own, its reaped children's (cutime, cstime) and every
 * live descendant's (forking servers such as sshd and socat do their work in children).
 */
export function treeCpuTicks(pid: number, descendants: readonly number[]): Ticks | undefined {
  const f = statFields(pid);
  if (!f) return undefined;
  const total = { user: Number(f[11]) + Number(f[13]), system: Number(f[12]) + Number(f[14]) };
  for (const child of descendants) {
    const t = cpuTicks(child);
    if (t) {
      total.user += t.user;
      total.system += t.system;
    }
  }
  return total;
}

/**
 * Ticks of all cores: busy in processes (user, nice, system), in interrupts (irq, softirq: the
 * kernel's loopback network processing lands here, for our processes too) and stolen by the
 * hypervisor.
 */
export function machineTicks(): { busy: number; softirq: number; steal: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return { busy: user! + nice! + system!, softirq: irq! + softirq!, steal: steal ?? 0 };
}

/** Fraction of one core the machine used over `windowMs` (all processes). */
export async function machineLoad(windowMs: number): Promise<number> {
  const a = machineTicks();
  await new Promise((r) => setTimeout(r, windowMs));
  const b = machineTicks();
  return (b.busy - a.busy) / TICKS_PER_SECOND / (windowMs / 1000);
}

/**
 * Waits (up to `maxWaitMs`) until the machine is quiet: less than `threshold` of one core busy over
 * a 300 ms window. Returns how long it waited and the last load seen.
 */
export async function waitForQuiet(maxWaitMs: number, threshold = 0.3): Promise<{ waitedMs: number; load: number }> {
  const started = Date.now();
  let load = await machineLoad(300);
  while (load > threshold && Date.now() - started < maxWaitMs) load = await machineLoad(300);
  return { waitedMs: Date.now() - started, load };
}
