/**
 * Reading what a process started by a test still holds after full garbage collections: start it
 * with liveHeapNodeFlags() (or NODE_OPTIONS from liveHeapEnv()), then liveHeapBytes() asks the
 * probe preloaded into it (live-heap-probe.ts) over SIGUSR2.
 */
import type { RunningProcess } from './processes.js';

const PROBE = new URL('./live-heap-probe.js', import.meta.url).href;

/** Node flags that preload the probe (before the script). */
export function liveHeapNodeFlags(): string[] {
  return ['--expose-gc', '--import', PROBE];
}

/** The same as NODE_OPTIONS, for processes started through a helper that takes an environment. */
export function liveHeapEnv(): Record<string, string> {
  return { NODE_OPTIONS: liveHeapNodeFlags().join(' ') };
}

const requests = new WeakMap<RunningProcess, number>();

/** Bytes still reachable in `proc` after two full collections (V8 heap plus external memory). */
export async function liveHeapBytes(proc: RunningProcess): Promise<number> {
  const request = (requests.get(proc) ?? 0) + 1;
  requests.set(proc, request);
  proc.child.kill('SIGUSR2');
  const match = await proc.waitForOutput(new RegExp(`LIVE-HEAP ${request} (\\d+|unavailable)`), 10_000);
  if (match[1] === 'unavailable') throw new Error('the process runs without --expose-gc');
  return Number(match[1]);
}
