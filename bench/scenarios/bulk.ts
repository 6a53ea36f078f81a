/** Shared by S1 and S2: one bulk measurement per direction, with the CPU each process used. */
import { runDriver } from '../lib/tools.js';
import type { Figure } from '../report/model.js';
import type { BulkResult } from '../tools/driver-spec.js';
import { expectedDigest } from './digests.js';
import { cpuDetail } from './memory.js';
import { figure, type MetricDef, type ScenarioRun } from './types.js';

export async function bulkFigures(run: ScenarioRun, scenario: string, metrics: { upload: MetricDef; download: MetricDef }, bytes: number, streams: number): Promise<Figure[]> {
  const { ctx, profile, def, path, sampled } = run;
  const figures: Figure[] = [];
  for (const direction of ['upload', 'download'] as const) {
    const spec = {
      mode: 'bulk' as const,
      endpoint: path.endpoint,
      direction,
      bytes,
      streams,
      check: profile.bulkCheck,
      expectSha256: profile.bulkCheck === 'sha256' ? expectedDigest(bytes) : '',
      timeoutMs: 240_000,
    };
    const { result: r, sample } = await sampled(() => runDriver<BulkResult>(ctx, spec, 260_000, path.driverEnv));
    figures.push(figure(scenario, def.id, metrics[direction], r.mbPerSecond, r, { seconds: r.seconds, bytes: r.bytes, streams, ...(streams > 1 ? { streamMbPerSecond: r.streamMbPerSecond } : {}), cpuSeconds: cpuDetail(sample, r.cpu) }));
  }
  return figures;
}
