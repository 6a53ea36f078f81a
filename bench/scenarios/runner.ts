/**
 * Runs one scenario over its paths. For each path: a fresh target, the path's processes (a fresh
 * relay for hybridge paths), an end-to-end probe, the measurement, then everything stopped again,
 * also when a step fails (the path then reports the error instead of figures).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Profile } from '../config.js';
import { waitForQuiet } from '../lib/cpu.js';
import { delay } from '../lib/net.js';
import { progress } from '../lib/progress.js';
import { cpuSlotsOf, Sampler, unwatchedProcesses } from '../lib/sampler.js';
import { startTarget, type RunningTarget } from '../lib/tools.js';
import { exitedProcess, type BenchContext, type PathDef, type RunningPath } from '../paths/types.js';
import type { Figure, ScenarioResult } from '../report/model.js';
import { formatValue } from '../report/format.js';
import { summariseProfiles } from '../report/profiles.js';
import { errorFigures, type PreparedScenario, type Scenario } from './types.js';

export interface RunFilter {
  /** Only these path ids (all when undefined). */
  paths?: string[];
  tls: boolean;
  /** Write CPU profiles of hybridge processes under this directory. */
  profileDir?: string;
}

/** Figures of one measurement without their own CPU detail get the measurement's. */
function shareCpuDetail(figures: Figure[]): void {
  const distinct = new Set(figures.filter((f) => f.detail?.cpuSeconds).map((f) => JSON.stringify(f.detail!.cpuSeconds)));
  if (distinct.size !== 1) return;
  const cpuSeconds = JSON.parse([...distinct][0]!) as Record<string, number>;
  for (const f of figures) if (!f.detail?.cpuSeconds) f.detail = { ...f.detail, cpuSeconds };
}

/**
 * Records which slot (sender end, relay, listener end, target) each CPU figure's process is, for the
 * report's CPU cost per GiB and per connection; notes a process of the path that is not watched.
 */
function recordCpuSlots(figures: Figure[], path: RunningPath, pathId: string, notes: string[]): void {
  const cpuSlots = cpuSlotsOf(path.watched);
  for (const f of figures) if (f.detail?.cpuSeconds) f.detail = { ...f.detail, cpuSlots };
  const missing = unwatchedProcesses(path.procs, path.watched);
  const note = `${pathId}: the CPU time of ${missing.join(', ')} is not watched, so the path's CPU sums leave it out`;
  if (missing.length && !notes.includes(note)) notes.push(note);
}

/** Time spent waiting for a quiet machine so far in this run. */
let quietWaited = 0;

function formatFigure(f: Figure): string {
  if (f.value === null) return `${f.label}: ERROR (${f.errors} errors: ${f.error})`;
  const v = formatValue(f.value);
  const cpu = f.detail?.cpuSeconds as Record<string, number> | undefined;
  const cpuText = cpu ? `  (CPU s: ${Object.entries(cpu).map(([k, s]) => `${k} ${s}`).join(', ')})` : '';
  return `${f.label}: ${v} ${f.unit}${cpuText}`;
}

export async function runScenario(ctx: BenchContext, profile: Profile, scenario: Scenario, filter: RunFilter): Promise<ScenarioResult> {
  const started = Date.now();
  const result = (paths: ScenarioResult['paths'], figures: Figure[], notes: string[]): ScenarioResult => ({
    id: scenario.id,
    title: scenario.title,
    description: scenario.description(profile),
    paths,
    figures,
    notes,
    seconds: (Date.now() - started) / 1000,
  });
  const notes = [...(scenario.notes?.(profile) ?? [])];
  const why = scenario.unavailable?.(ctx);
  if (why) {
    progress(`== ${scenario.id}: ${scenario.title}: skipped (${why})`);
    return result([], [], [...notes, `Skipped: ${why}.`]);
  }
  progress(`== ${scenario.id}: ${scenario.title}`);
  let prepared: PreparedScenario | undefined;
  try {
    prepared = await scenario.prepare?.(ctx, profile);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    progress(`   FAILED to prepare: ${message}`);
    return result([], [], [...notes, `Not run: preparing the scenario failed: ${message}`]);
  }
  try {
    const ran = await runPaths(prepared?.ctx ?? ctx, profile, scenario, filter, notes, prepared?.prewarmSettleMs);
    const figures = [...(prepared?.figures ?? []), ...ran.figures];
    const derived = scenario.derive?.(figures) ?? [];
    for (const f of derived) progress(`   ${f.path}: ${formatFigure(f)}`);
    const paths = [...(prepared?.paths ?? []), ...ran.defs.map((d) => ({ id: d.id, label: d.label, kind: d.kind, ...(d.transport ? { transport: d.transport } : {}) }))];
    return result(paths, [...figures, ...derived], [...notes, ...(prepared?.notes ?? [])]);
  } finally {
    await prepared?.close();
  }
}

/** Each of the scenario's paths in turn: start, probe, settle, measure, stop. */
async function runPaths(ctx: BenchContext, profile: Profile, scenario: Scenario, filter: RunFilter, notes: string[], prewarmSettleMs = 1000): Promise<{ defs: PathDef[]; figures: Figure[] }> {
  const figures: Figure[] = [];
  const tls = filter.tls && (profile.tlsScenarios === 'all' || profile.tlsScenarios.includes(scenario.id));
  const defs = scenario.paths(profile, tls).filter((d) => !filter.paths || filter.paths.includes(d.id));
  progress(`   ${defs.length} paths`);
  const ran: typeof defs = [];
  for (const def of defs) {
    const why = def.unavailable?.(ctx);
    if (why) {
      notes.push(`${def.label}: skipped, ${why}`);
      progress(`   ${def.id}: skipped (${why})`);
      continue;
    }
    ran.push(def);
    const t0 = Date.now();
    const phases: string[] = [];
    let mark = t0;
    const phase = (name: string) => {
      const now = Date.now();
      phases.push(`${name} ${((now - mark) / 1000).toFixed(1)}`);
      mark = now;
    };
    progress(`   ${def.id}: starting`);
    let target: RunningTarget | undefined;
    let path: RunningPath | undefined;
    try {
      ctx.cpuProfDir = undefined;
      if (filter.profileDir) {
        ctx.cpuProfDir = join(filter.profileDir, `${scenario.id}-${def.id}`);
        mkdirSync(ctx.cpuProfDir, { recursive: true });
      }
      target = await startTarget(ctx, scenario.target);
      path = await def.start(ctx, target.endpoint);
      await ctx.sites.probe(path, scenario.target, 20_000, ctx.tlsCertFile);
      phase('start');
      // Let a prewarm pool refill after the probe used one of its connections.
      await delay(def.prewarm ? prewarmSettleMs : 200);
      const allowance = Math.min(profile.quietWait.perPathMs, profile.quietWait.totalMs - quietWaited);
      if (allowance > 0) {
        const quiet = await waitForQuiet(allowance);
        quietWaited += quiet.waitedMs;
        if (quiet.load > 0.3) progress(`   ${def.id}: the machine is busy (${Math.round(quiet.load * 100)}% of a core used by other programs after waiting ${(quiet.waitedMs / 1000).toFixed(0)} s); figures may be disturbed`);
      }
      phase('settle');
      const running = path;
      const runningTarget = target;
      const got = await scenario.run({
        ctx,
        profile,
        def,
        path: running,
        target,
        sampled: async (body) => {
          const sampler = new Sampler([...running.watched, { slot: 'target', role: 'target', pid: runningTarget.proc.pid }]);
          sampler.start();
          try {
            const result = await body();
            return { result, sample: sampler.stop() };
          } catch (err) {
            sampler.stop();
            throw err;
          }
        },
      });
      phase('measure');
      shareCpuDetail(got);
      recordCpuSlots(got, path, def.id, notes);
      const dead = exitedProcess(path);
      for (const f of got) {
        if (dead && f.value !== null) Object.assign(f, { value: null, errors: f.errors + 1, error: dead });
        figures.push(f);
        progress(`   ${def.id}: ${formatFigure(f)}`);
      }
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      progress(`   ${def.id}: FAILED: ${message.split('\n').slice(0, 4).join(' | ')}`);
      figures.push(...errorFigures(scenario, def.id, message));
    } finally {
      mark = Date.now();
      await Promise.all([path?.stop().catch(() => undefined), target?.proc.stop().catch(() => undefined)]);
      phase('stop');
      if (ctx.cpuProfDir) summariseProfiles(ctx.cpuProfDir);
      ctx.cpuProfDir = undefined;
    }
    progress(`   ${def.id}: done in ${((Date.now() - t0) / 1000).toFixed(1)} s (${phases.join(', ')})`);
  }
  return { defs: ran, figures };
}
