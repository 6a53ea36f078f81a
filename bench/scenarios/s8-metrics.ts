/**
 * S8 and S9: what metrics cost. The same bridge path with metrics off and on (see
 * bench/paths/metrics.ts), measured in alternating rounds (off, on; then on, off; ...): single-stream
 * upload throughput (S8) and sequential set-up latency (S9). The cost is the median "on" figure's
 * difference from the median "off" one, in per cent.
 */
import { cpuSecondsOf } from '../lib/cpu.js';
import { runDriver } from '../lib/tools.js';
import { median, round } from '../lib/stats.js';
import { metricsPath, SCRAPE_INTERVAL_MS } from '../paths/metrics.js';
import type { Endpoint } from '../paths/types.js';
import type { Figure } from '../report/model.js';
import type { BulkResult, SetupResult } from '../tools/driver-spec.js';
import { expectedDigest } from './digests.js';
import { measureBookkeeping } from './metrics-bookkeeping.js';
import { figure, type MetricDef, type Scenario, type ScenarioRun } from './types.js';

const ROUNDS = { full: 6, quick: 4, tiny: 1 } as const;

const UPLOAD_OFF: MetricDef = { metric: 'upload-off', label: 'upload, metrics off', unit: 'MB/s', better: 'higher' };
const UPLOAD_ON: MetricDef = { metric: 'upload-on', label: 'upload, metrics on', unit: 'MB/s', better: 'higher' };
const UPLOAD_COST: MetricDef = { metric: 'upload-cost', label: 'throughput cost of metrics', unit: '%', better: 'lower' };
const SETUP_OFF: MetricDef = { metric: 'setup-off', label: 'set-up p50, metrics off', unit: 'ms', better: 'lower' };
const SETUP_ON: MetricDef = { metric: 'setup-on', label: 'set-up p50, metrics on', unit: 'ms', better: 'lower' };
const UPLOAD_CPU_COST: MetricDef = { metric: 'upload-cpu-cost', label: 'CPU cost of metrics per upload (relay and both ends)', unit: '%', better: 'lower' };
const SETUP_CPU_COST: MetricDef = { metric: 'setup-cpu-cost', label: 'CPU cost of metrics per connection set-up (relay and both ends)', unit: '%', better: 'lower' };
const SETUP_COST: MetricDef = { metric: 'setup-cost', label: 'set-up cost of metrics', unit: '%', better: 'lower' };
const CPU_ADDED: MetricDef = { metric: 'cpu-per-connection', label: 'CPU metrics add per connection (both ends and the relay, in-process)', unit: 'µs', better: 'lower' };
const CPU_COST: MetricDef = { metric: 'cpu-cost', label: 'that CPU as a share of the set-up time (metrics off)', unit: '%', better: 'lower' };

/** CPU seconds the variant's processes (relay and both ends) have used so far. */
function cpuSeconds(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + (cpuSecondsOf(pid) ?? 0), 0);
}

/**
 * Runs `measure` on both variants in alternating order, `rounds` times: the medians of the figures and
 * of the CPU seconds each variant's processes used per run (CPU time drifts less than wall time when
 * other programs share the machine).
 */
async function alternate(run: ScenarioRun, measure: (endpoint: Endpoint) => Promise<{ value: number; errors: number; errorSamples?: string[] }>) {
  const variants = run.path.variants!;
  const pids = run.path.variantPids!;
  const values: Record<'off' | 'on', number[]> = { off: [], on: [] };
  const cpu: Record<'off' | 'on', number[]> = { off: [], on: [] };
  let errors = 0;
  const samples: string[] = [];
  const rounds = ROUNDS[run.profile.name];
  for (let i = 0; i < rounds; i++) {
    for (const variant of i % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
      const before = cpuSeconds(pids[variant]!);
      const r = await measure(variants[variant]!);
      cpu[variant].push(cpuSeconds(pids[variant]!) - before);
      errors += r.errors;
      samples.push(...(r.errorSamples ?? []));
      values[variant].push(r.value);
    }
  }
  return { off: median(values.off), on: median(values.on), values, cpu: { off: median(cpu.off), on: median(cpu.on) }, errors: { errors, errorSamples: samples } };
}

const description = (what: string) => (p: { name: keyof typeof ROUNDS }) =>
  `${what} over bridge -L/-T (WS) twice: with no metrics anywhere (relay --no-metrics, ends without --metrics-addr), and with metrics everywhere (relay and both ends with --metrics-addr, all three scraped every ${SCRAPE_INTERVAL_MS / 1000} s). ${ROUNDS[p.name]} alternating rounds (off then on, then on then off, ...); the figures are the medians, the cost how much worse "on" is than "off" (negative: no measurable cost).`;

export const metricsThroughput: Scenario = {
  id: 's8',
  title: 'Cost of metrics: throughput',
  description: (p) => description(`One ${p.bulkBytes / 2 ** 20} MiB upload per round`)(p),
  target: 'bulk',
  metrics: [UPLOAD_OFF, UPLOAD_ON, UPLOAD_COST, UPLOAD_CPU_COST],
  paths: () => [metricsPath],
  run: async (run) => {
    const { ctx, profile, def } = run;
    const { off, on, values, cpu, errors } = await alternate(run, async (endpoint) => {
      const spec = { mode: 'bulk' as const, endpoint, direction: 'upload' as const, bytes: profile.bulkBytes, streams: 1, check: profile.bulkCheck, expectSha256: profile.bulkCheck === 'sha256' ? expectedDigest(profile.bulkBytes) : '', timeoutMs: 240_000 };
      const r = await runDriver<BulkResult>(ctx, spec, 260_000, run.path.driverEnv);
      return { value: r.mbPerSecond, errors: r.errors, errorSamples: r.errorSamples };
    });
    const detail = { rounds: values.off.length, offRuns: values.off.map((v) => round(v)), onRuns: values.on.map((v) => round(v)), cpuSecondsPerRun: { off: round(cpu.off, 3), on: round(cpu.on, 3) } };
    const figures: Figure[] = [
      figure('s8', def.id, UPLOAD_OFF, off, errors, detail),
      figure('s8', def.id, UPLOAD_ON, on, errors, detail),
      figure('s8', def.id, UPLOAD_COST, round(((off - on) / off) * 100), errors, detail),
      figure('s8', def.id, UPLOAD_CPU_COST, round(((cpu.on - cpu.off) / cpu.off) * 100), errors, detail),
    ];
    return figures;
  },
};

export const metricsSetup: Scenario = {
  id: 's9',
  title: 'Cost of metrics: connection set-up',
  description: (p) => description(`${p.setupCount} sequential connections (connect, 1-byte echo, close) per round`)(p),
  target: 'echo',
  metrics: [SETUP_OFF, SETUP_ON, SETUP_COST, SETUP_CPU_COST, CPU_ADDED, CPU_COST],
  paths: () => [metricsPath],
  run: async (run) => {
    const { ctx, profile, def } = run;
    const { off, on, values, cpu, errors } = await alternate(run, async (endpoint) => {
      const r = await runDriver<SetupResult>(ctx, { mode: 'setup', endpoint, count: profile.setupCount, timeoutMs: 180_000 }, 200_000, run.path.driverEnv);
      return { value: r.latencyMs.p50, errors: r.errors, errorSamples: r.errorSamples };
    });
    const detail = { rounds: values.off.length, offRuns: values.off.map((v) => round(v, 3)), onRuns: values.on.map((v) => round(v, 3)), cpuSecondsPerRun: { off: round(cpu.off, 3), on: round(cpu.on, 3) } };
    const books = measureBookkeeping();
    const booksDetail = { endMicros: { off: round(books.end.off), on: round(books.end.on) }, relayMicros: { off: round(books.relay.off), on: round(books.relay.on) } };
    return [
      figure('s9', def.id, SETUP_OFF, off, errors, detail),
      figure('s9', def.id, SETUP_ON, on, errors, detail),
      figure('s9', def.id, SETUP_COST, round(((on - off) / off) * 100), errors, detail),
      figure('s9', def.id, SETUP_CPU_COST, round(((cpu.on - cpu.off) / cpu.off) * 100), errors, detail),
      figure('s9', def.id, CPU_ADDED, round(books.addedMicros), undefined, booksDetail),
      figure('s9', def.id, CPU_COST, round((books.addedMicros / 1000 / off) * 100, 3), undefined, booksDetail),
    ];
  },
};
