/** Shared by S1 and S2: one bulk measurement per direction, with the CPU each process used. */
import { runDriver } from '../lib/tools.js';
import { cpuSlotsOf, Sampler } from '../lib/sampler.js';
import { nodeChainPath } from '../paths/baselines.js';
import type { RunningPath } from '../paths/types.js';
import type { Figure } from '../report/model.js';
import type { PairedFloor } from '../report/paired-floor.js';
import type { BulkResult } from '../tools/driver-spec.js';
import { expectedDigest } from './digests.js';
import { cpuDetail } from './memory.js';
import { figure, type MetricDef, type ScenarioRun } from './types.js';

export interface BulkOptions {
  /**
   * For a hybridge path: also run its Node floor (node-chain, node-chain-tls for TLS) to the same
   * target, measured right before and right after the path in each direction, so the path's ratio
   * to the floor compares the same moments of the machine (detail.floor, a PairedFloor).
   */
  floorBeside?: boolean;
}

export async function bulkFigures(run: ScenarioRun, scenario: string, metrics: { upload: MetricDef; download: MetricDef }, bytes: number, streams: number, options: BulkOptions = {}): Promise<Figure[]> {
  const { ctx, profile, def, path, sampled } = run;
  const figures: Figure[] = [];
  const floorDef = options.floorBeside && def.kind === 'hybridge' ? nodeChainPath(def.transport ?? 'ws') : undefined;
  const floor = floorDef ? await floorDef.start(ctx, run.target.endpoint) : undefined;
  try {
    for (const direction of ['upload', 'download'] as const) {
      const spec = (endpoint: RunningPath['endpoint']) => ({
        mode: 'bulk' as const,
        endpoint,
        direction,
        bytes,
        streams,
        check: profile.bulkCheck,
        expectSha256: profile.bulkCheck === 'sha256' ? expectedDigest(bytes) : '',
        timeoutMs: 240_000,
      });
      const floorRuns: { result: BulkResult; cpu: Record<string, number> }[] = [];
      const measureFloor = async () => {
        if (!floor) return;
        const sampler = new Sampler(floor.watched);
        sampler.start();
        try {
          const result = await runDriver<BulkResult>(ctx, spec(floor.endpoint), 260_000);
          floorRuns.push({ result, cpu: cpuDetail(sampler.stop(), result.cpu) });
        } catch (err) {
          sampler.stop();
          throw err;
        }
      };
      await measureFloor();
      const { result: r, sample } = await sampled(() => runDriver<BulkResult>(ctx, spec(path.endpoint), 260_000, path.driverEnv));
      await measureFloor();
      const detail: Record<string, unknown> = { seconds: r.seconds, bytes: r.bytes, streams, ...(streams > 1 ? { streamMbPerSecond: r.streamMbPerSecond } : {}), cpuSeconds: cpuDetail(sample, r.cpu) };
      if (floor && floorDef) detail.floor = pairedFloor(floorDef.id, floorRuns, floor);
      figures.push(figure(scenario, def.id, metrics[direction], r.mbPerSecond, r, detail));
    }
  } finally {
    await floor?.stop();
  }
  return figures;
}

function pairedFloor(id: string, runs: { result: BulkResult; cpu: Record<string, number> }[], floor: RunningPath): PairedFloor {
  const cpuSeconds: Record<string, number> = {};
  for (const { cpu } of runs) for (const [role, s] of Object.entries(cpu)) cpuSeconds[role] = Math.round(((cpuSeconds[role] ?? 0) + s) * 100) / 100;
  const rates = runs.map((r) => r.result.mbPerSecond);
  const failed = runs.some((r) => r.result.errors > 0);
  return {
    path: id,
    value: failed ? Number.NaN : rates.reduce((a, b) => a + b, 0) / rates.length,
    runs: rates,
    bytes: runs.reduce((n, r) => n + r.result.bytes, 0),
    cpuSeconds,
    cpuSlots: cpuSlotsOf(floor.watched),
  };
}
