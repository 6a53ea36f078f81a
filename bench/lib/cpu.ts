/** CPU time from /proc: per process (utime, stime) and for the whole machine. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** The kernel's clock ticks per second (`getconf CLK_TCK`), the unit of /proc's CPU times; 100 if getconf cannot say. */
function clockTicks(): number {
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5000 }).trim());
    return Number.isInteger(ticks) && ticks > 0 ? ticks : 100;
  } catch {
    return 100;
  }
}

export const TICKS_PER_SECOND = clockTicks();

export interface Ticks {
  user: number;
  system: number;
}

/** The fields of a /proc/PID/stat line after "pid (comm) ", so that field 3 (state) is [0]; comm may hold spaces and parentheses. */
export function statFieldsOf(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).trim().split(' ');
}

/** utime and stime (fields 14 and 15 of proc(5), clock ticks) of a /proc/PID/stat line. */
export function parseStatTicks(stat: string): Ticks {
  const f = statFieldsOf(stat);
  const user = Number(f[11]);
  const system = Number(f[12]);
  if (!Number.isFinite(user) || !Number.isFinite(system)) throw new Error(`not a /proc/PID/stat line: ${stat.slice(0, 80)}`);
  return { user, system };
}

function statFields(pid: number): string[] | undefined {
  try {
    return statFieldsOf(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** utime and stime (clock ticks) of one process; undefined once it has gone. */
export function cpuTicks(pid: number): Ticks | undefined {
  try {
    return parseStatTicks(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** utime + stime of one process in seconds; undefined once it has gone. */
export function cpuSecondsOf(pid: number): number | undefined {
  const t = cpuTicks(pid);
  return t ? (t.user + t.system) / TICKS_PER_SECOND : undefined;
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
