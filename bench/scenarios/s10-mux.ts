/**
 * S10: multiplexed sessions against a relayed connection per client connection, same relay, same
 * run: one stream's throughput over --mux 2 as a share of the same path without it, and how evenly
 * 8 concurrent streams on the sessions share them (each stream's rate against their mean).
 */
import { bridgeTcpPath } from '../paths/bridge.js';
import { tunnelTcpPath } from '../paths/tunnel.js';
import type { Figure } from '../report/model.js';
import { runDriver } from '../lib/tools.js';
import type { BulkResult } from '../tools/driver-spec.js';
import { bulkFigures } from './bulk.js';
import { expectedDigest } from './digests.js';
import { cpuDetail } from './memory.js';
import { figure, type MetricDef, type Scenario, type ScenarioRun } from './types.js';

const MUX_SESSIONS = 2;
const STREAMS = 8;
const UPLOAD: MetricDef = { metric: 'upload', label: '1-stream upload', unit: 'MB/s', better: 'higher' };
const DOWNLOAD: MetricDef = { metric: 'download', label: '1-stream download', unit: 'MB/s', better: 'higher' };
const UPLOAD_RATIO: MetricDef = { metric: 'upload-vs-plain', label: '1-stream upload, mux / no mux', unit: 'x', better: 'higher' };
const DOWNLOAD_RATIO: MetricDef = { metric: 'download-vs-plain', label: '1-stream download, mux / no mux', unit: 'x', better: 'higher' };
const SPREAD: Record<'upload' | 'download', MetricDef> = {
  upload: { metric: 'upload-spread', label: `${STREAMS}-stream upload: worst stream from the mean`, unit: '%', better: 'lower' },
  download: { metric: 'download-spread', label: `${STREAMS}-stream download: worst stream from the mean`, unit: '%', better: 'lower' },
};

/** The worst stream's distance from the streams' mean rate, in percent of the mean. */
export function spreadPercent(rates: readonly number[]): number {
  if (rates.length === 0) return Number.NaN;
  const mean = rates.reduce((a, b) => a + b, 0) / rates.length;
  return (100 * Math.max(...rates.map((r) => Math.abs(r - mean)))) / mean;
}

async function fairness(run: ScenarioRun, bytes: number): Promise<Figure[]> {
  const { ctx, profile, def, path, sampled } = run;
  const figures: Figure[] = [];
  for (const direction of ['upload', 'download'] as const) {
    const spec = { mode: 'bulk' as const, endpoint: path.endpoint, direction, bytes, streams: STREAMS, check: profile.bulkCheck, expectSha256: profile.bulkCheck === 'sha256' ? expectedDigest(bytes) : '', timeoutMs: 240_000 };
    const { result: r, sample } = await sampled(() => runDriver<BulkResult>(ctx, spec, 260_000, path.driverEnv));
    const rates = r.streamMbPerSecond ?? [];
    const value = rates.length === STREAMS ? spreadPercent(rates) : Number.NaN;
    figures.push(figure('s10', def.id, SPREAD[direction], value, r, { streamMbPerSecond: rates, aggregateMbPerSecond: r.mbPerSecond, cpuSeconds: cpuDetail(sample, r.cpu) }));
  }
  return figures;
}

export const muxThroughput: Scenario = {
  id: 's10',
  title: 'Multiplexed sessions: one stream against no mux, and fairness across streams',
  description: (p) =>
    `Each hybridge pair with and without --mux ${MUX_SESSIONS}, through the same relay. One connection moves ${p.bulkBytes / 2 ** 20} MiB each way (the mux / no mux ratio compares the two rows of a pair in this run; target at least 0.9x); then ${STREAMS} connections at once move ${p.parallel.bytesPerStream / 2 ** 20} MiB each, and the figure is the worst stream's distance from their mean rate (target within 20 %).`,
  target: 'bulk',
  metrics: [UPLOAD, DOWNLOAD, UPLOAD_RATIO, DOWNLOAD_RATIO, SPREAD.upload, SPREAD.download],
  paths: (_p, tls) => {
    const transports = tls ? (['ws', 'tls'] as const) : (['ws'] as const);
    return transports.flatMap((t) => [tunnelTcpPath(t), tunnelTcpPath(t, 0, MUX_SESSIONS), bridgeTcpPath(t), bridgeTcpPath(t, 0, MUX_SESSIONS)]);
  },
  run: async (run) => {
    const single = await bulkFigures(run, 's10', { upload: UPLOAD, download: DOWNLOAD }, run.profile.bulkBytes, 1);
    // The spread only says something about streams sharing sessions.
    if (!run.def.id.endsWith('-mux')) return single;
    return [...single, ...(await fairness(run, run.profile.parallel.bytesPerStream))];
  },
  derive: (figures) => {
    const ratios: Figure[] = [];
    for (const [metric, def] of [['upload', UPLOAD_RATIO], ['download', DOWNLOAD_RATIO]] as const) {
      for (const mux of figures.filter((f) => f.metric === metric && f.path.endsWith('-mux'))) {
        const plain = figures.find((f) => f.metric === metric && f.path === mux.path.slice(0, -'-mux'.length));
        if (!plain || plain.value === null || mux.value === null) continue;
        ratios.push({ ...figure('s10', mux.path, def, mux.value / plain.value), detail: { mux: mux.value, plain: plain.value } });
      }
    }
    return ratios;
  },
};
