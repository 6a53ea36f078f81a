/**
 * Watches a path's processes while a measurement runs: the peak resident memory of each (sampled),
 * the CPU time each used, and the CPU the rest of the machine used meanwhile (other programs
 * disturbing the measurement).
 */
import { cpuTicks, machineTicks, TICKS_PER_SECOND, treeCpuTicks, type Ticks } from './cpu.js';
import { descendantsOf, rssKiB, treeRssKiB } from './rss.js';

/** Which part of a path a process is: the relay, the end the client connects to, the end near the target. */
export type Slot = 'relay' | 'sender' | 'listener' | 'target';

export interface WatchedProcess {
  slot: Slot;
  /** What it is, for the report (e.g. "bridge -L"). */
  role: string;
  pid: number;
  /** Sum the process tree's memory (for forking servers). */
  tree?: boolean;
}

export interface ProcessReport {
  slot: Slot;
  role: string;
  idleKiB: number;
  peakKiB: number;
  /** CPU time (user + system) used while sampled, in seconds (for trees: the whole tree). */
  cpuSeconds: number;
  systemSeconds: number;
}

export interface SampleReport {
  processes: ProcessReport[];
  wallSeconds: number;
  /** CPU seconds all cores were busy in processes (every process on the machine). */
  machineBusySeconds: number;
  /** CPU seconds in interrupt handling (loopback networking), not charged to any process. */
  softirqSeconds: number;
  stealSeconds: number;
}

export class Sampler {
  private readonly peaks = new Map<string, number>();
  private readonly idle = new Map<string, number>();
  private readonly cpuStart = new Map<string, Ticks>();
  private machineStart = { busy: 0, softirq: 0, steal: 0 };
  private started = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly processes: readonly WatchedProcess[],
    private readonly intervalMs = 200,
  ) {}

  private read(p: WatchedProcess): number | undefined {
    return p.tree ? treeRssKiB(p.pid) : rssKiB(p.pid);
  }

  private ticks(p: WatchedProcess): Ticks | undefined {
    return p.tree ? treeCpuTicks(p.pid, descendantsOf(p.pid)) : cpuTicks(p.pid);
  }

  /** Records the idle baseline now and starts sampling. */
  start(): void {
    for (const p of this.processes) {
      const v = this.read(p) ?? 0;
      this.idle.set(p.role, v);
      this.peaks.set(p.role, v);
      this.cpuStart.set(p.role, this.ticks(p) ?? { user: 0, system: 0 });
    }
    this.machineStart = machineTicks();
    this.started = performance.now();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  private sample(): void {
    for (const p of this.processes) {
      const v = this.read(p);
      if (v !== undefined && v > (this.peaks.get(p.role) ?? 0)) this.peaks.set(p.role, v);
    }
  }

  stop(): SampleReport {
    if (this.timer) clearInterval(this.timer);
    this.sample();
    const machine = machineTicks();
    const processes = this.processes.map((p) => {
      const start = this.cpuStart.get(p.role) ?? { user: 0, system: 0 };
      const end = this.ticks(p) ?? start;
      return {
        slot: p.slot,
        role: p.role,
        idleKiB: this.idle.get(p.role) ?? 0,
        peakKiB: this.peaks.get(p.role) ?? 0,
        cpuSeconds: (end.user - start.user + end.system - start.system) / TICKS_PER_SECOND,
        systemSeconds: (end.system - start.system) / TICKS_PER_SECOND,
      };
    });
    return {
      processes,
      wallSeconds: (performance.now() - this.started) / 1000,
      machineBusySeconds: (machine.busy - this.machineStart.busy) / TICKS_PER_SECOND,
      softirqSeconds: (machine.softirq - this.machineStart.softirq) / TICKS_PER_SECOND,
      stealSeconds: (machine.steal - this.machineStart.steal) / TICKS_PER_SECOND,
    };
  }
}

/** Role -> slot of a path's watched processes and the target, as figures record them (detail.cpuSlots) next to detail.cpuSeconds. */
export function cpuSlotsOf(watched: readonly WatchedProcess[]): Record<string, Slot> {
  return Object.fromEntries([...watched.map((w) => [w.role, w.slot] as const), ['target', 'target'] as const]);
}

/** The names of a path's processes that are not watched (their CPU time would be missing from the path's sums). */
export function unwatchedProcesses(procs: readonly { name: string; pid: number }[], watched: readonly WatchedProcess[]): string[] {
  const pids = new Set(watched.map((w) => w.pid));
  return procs.filter((p) => !pids.has(p.pid)).map((p) => p.name);
}
