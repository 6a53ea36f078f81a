/**
 * CPU time per GiB moved and per connection set up, for each end, the relay and their sum, derived
 * from the CPU seconds each process used during a measurement (utime + stime from /proc, recorded by
 * the scenario runner as a figure's detail.cpuSeconds and detail.cpuSlots).
 */
import { floorFor } from './format.js';
import type { Figure } from './model.js';
import { pairedFloorOf } from './paired-floor.js';

/** The processes a path adds between the client and the target; the target and the driver are the same for every path. */
export const COST_SLOTS = ['sender', 'relay', 'listener'] as const;
export type CostSlot = (typeof COST_SLOTS)[number];

export interface CpuCost {
  scenario: string;
  path: string;
  /** What was measured: 'upload' or 'download' (per GiB), 'set-up' (per connection). */
  measurement: string;
  unit: 's/GiB' | 'ms/connection';
  /** GiB moved or connections set up during the measurement. */
  count: number;
  /** CPU per GiB or per connection of each slot's processes (a slot with several processes, e.g. two cluster nodes, is their sum). */
  bySlot: Partial<Record<CostSlot, number>>;
  /** The same per process (by role, e.g. "bridge -L"). */
  byProcess: Record<string, number>;
  /** sender + relay + listener. */
  sum: number;
  /** The same cost of the Node floor measured beside this measurement (s1), when there was one. */
  floorBeside?: CpuCost;
}

const GiB = 2 ** 30;

/** The measurement a figure belongs to and what its CPU time is divided by, or undefined when it has no CPU cost. */
function measurementOf(f: Figure): { measurement: string; unit: CpuCost['unit']; count: number; scale: number } | undefined {
  const d = f.detail ?? {};
  if (typeof d.bytes === 'number' && d.bytes > 0) return { measurement: f.metric, unit: 's/GiB', count: d.bytes / GiB, scale: 1 };
  if (typeof d.completed === 'number' && d.completed > 0) return { measurement: 'set-up', unit: 'ms/connection', count: d.completed, scale: 1000 };
  return undefined;
}

/**
 * One CpuCost per measurement of a path that has figures without errors and processes of its own
 * (direct has none). Figures of one measurement (p50, p95, p99 of a set-up run) count once.
 */
export function cpuCosts(figures: readonly Figure[]): CpuCost[] {
  const out: CpuCost[] = [];
  const seen = new Set<string>();
  for (const f of figures) {
    if (f.value === null) continue;
    const m = measurementOf(f);
    if (!m) continue;
    const key = `${f.scenario}\u0000${f.path}\u0000${m.measurement}`;
    if (seen.has(key)) continue;
    const cost = costOf(f);
    if (!cost) continue;
    seen.add(key);
    const floor = pairedFloorOf(f);
    const floorCost = floor ? costOf({ ...f, path: floor.path, detail: { bytes: floor.bytes, cpuSeconds: floor.cpuSeconds, cpuSlots: floor.cpuSlots } }) : undefined;
    out.push(floorCost ? { ...cost, floorBeside: floorCost } : cost);
  }
  return out;
}

/** A figure's CPU cost, or undefined when it has no CPU detail or no processes of its own. */
function costOf(f: Figure): CpuCost | undefined {
  const m = measurementOf(f);
  const seconds = f.detail?.cpuSeconds as Record<string, number> | undefined;
  const slots = f.detail?.cpuSlots as Record<string, string> | undefined;
  if (!m || !seconds || !slots) return undefined;
  const bySlot: CpuCost['bySlot'] = {};
  const byProcess: Record<string, number> = {};
  for (const [role, slot] of Object.entries(slots)) {
    if (!(COST_SLOTS as readonly string[]).includes(slot) || typeof seconds[role] !== 'number') continue;
    const perUnit = (seconds[role] * m.scale) / m.count;
    byProcess[role] = perUnit;
    bySlot[slot as CostSlot] = (bySlot[slot as CostSlot] ?? 0) + perUnit;
  }
  if (Object.keys(byProcess).length === 0) return undefined;
  const sum = Object.values(bySlot).reduce((a, b) => a + b, 0);
  return { scenario: f.scenario, path: f.path, measurement: m.measurement, unit: m.unit, count: m.count, bySlot, byProcess, sum };
}

/**
 * A cost's sum divided by the same measurement's sum on the path's Node floor (node-chain, or
 * node-chain-tls for TLS paths): the floor measured beside it when there was one, else the floor
 * path's; undefined without either.
 */
export function costToFloor(costs: readonly CpuCost[], c: CpuCost): number | undefined {
  const floor = floorFor(c.path);
  if (c.path === floor) return undefined;
  if (c.floorBeside && c.floorBeside.sum > 0) return c.sum / c.floorBeside.sum;
  const f = costs.find((x) => x.scenario === c.scenario && x.path === floor && x.measurement === c.measurement);
  return f && f.sum > 0 ? c.sum / f.sum : undefined;
}

/**
 * A cost as figures (metric cpu-<measurement> for the sum, cpu-<measurement>-<slot> per slot), so
 * that charts and before/after comparisons treat it like any other figure.
 */
export function costFigures(c: CpuCost): Figure[] {
  const per = c.unit === 's/GiB' ? `per GiB (${c.measurement})` : 'per connection set up';
  const make = (metric: string, label: string, value: number): Figure => ({ scenario: c.scenario, path: c.path, metric, label, value, unit: c.unit === 's/GiB' ? 'CPU s/GiB' : 'CPU ms/conn', better: 'lower', errors: 0 });
  return [
    make(`cpu-${c.measurement}`, `CPU ${per}, ends + relay`, c.sum),
    ...COST_SLOTS.filter((k) => c.bySlot[k] !== undefined).map((k) => make(`cpu-${c.measurement}-${k}`, `CPU ${per}, ${k}`, c.bySlot[k]!)),
  ];
}
