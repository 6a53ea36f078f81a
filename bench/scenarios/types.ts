/** A scenario: which target it needs, which paths it measures, and how it measures one path. */
import type { Profile } from '../config.js';
import type { TargetMode } from '../lib/probe.js';
import type { SampleReport } from '../lib/sampler.js';
import type { RunningTarget } from '../lib/tools.js';
import type { BenchContext, PathDef, RunningPath } from '../paths/types.js';
import type { Better, Figure, PathInfo } from '../report/model.js';

export interface MetricDef {
  metric: string;
  label: string;
  unit: string;
  better: Better;
}

export interface ScenarioRun {
  ctx: BenchContext;
  profile: Profile;
  def: PathDef;
  path: RunningPath;
  target: RunningTarget;
  /** Watches the path's processes and the target while `body` runs (memory peaks, CPU time). */
  sampled<T>(body: () => Promise<T>): Promise<{ result: T; sample: SampleReport }>;
}

/** What a scenario set up before its paths ran (e.g. a network-fault lab), undone by close(). */
export interface PreparedScenario {
  /** The context the scenario's paths run in (its Sites, its certificate). */
  ctx: BenchContext;
  /** Rows measured during the preparation (e.g. the lab's path RTT) and what names them. */
  paths: PathInfo[];
  figures: Figure[];
  notes: string[];
  /** How long a prewarmed path's pool needs to refill after the probe. */
  prewarmSettleMs?: number;
  close(): Promise<void>;
}

export interface Scenario {
  id: string;
  title: string;
  description(profile: Profile): string;
  target: TargetMode;
  metrics: MetricDef[];
  paths(profile: Profile, tls: boolean): PathDef[];
  /** Notes for the report (e.g. a baseline left out on purpose). */
  notes?(profile: Profile): string[];
  /** Why the scenario cannot run on this machine (it is then skipped with this note), or undefined. */
  unavailable?(ctx: BenchContext): string | undefined;
  /** Runs once before the scenario's paths; its close() runs after them, also on failure. */
  prepare?(ctx: BenchContext, profile: Profile): Promise<PreparedScenario>;
  run(run: ScenarioRun): Promise<Figure[]>;
  /** Figures derived from several paths once all ran (e.g. latency added over direct). */
  derive?(figures: Figure[]): Figure[];
}

/** A figure for `m`, or an error figure when the measurement had errors. */
export function figure(
  scenario: string,
  path: string,
  m: MetricDef,
  value: number,
  errors: { errors: number; errorSamples?: string[] } = { errors: 0 },
  detail?: Record<string, unknown>,
): Figure {
  const failed = errors.errors > 0 || !Number.isFinite(value);
  return {
    scenario,
    path,
    metric: m.metric,
    label: m.label,
    unit: m.unit,
    better: m.better,
    value: failed ? null : value,
    errors: errors.errors,
    ...(failed ? { error: errors.errorSamples?.[0] ?? (errors.errors > 0 ? `${errors.errors} errors` : 'no measurement') } : {}),
    ...(detail ? { detail: { ...detail, ...(failed && Number.isFinite(value) ? { measuredDespiteErrors: value } : {}) } } : {}),
  };
}

export function errorFigures(scenario: Scenario, path: string, error: string): Figure[] {
  return scenario.metrics.map((m) => ({ scenario: scenario.id, path, metric: m.metric, label: m.label, unit: m.unit, better: m.better, value: null, errors: 1, error }));
}
