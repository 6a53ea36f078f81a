/** S5: RDP-like sessions opened at once, each with bursty traffic both ways; time to usable, latency, loss. */
import { runDriver } from '../lib/tools.js';
import { tcpPaths } from '../paths/catalog.js';
import type { Figure } from '../report/model.js';
import type { SessionsResult } from '../tools/driver-spec.js';
import { cpuDetail } from './memory.js';
import { figure, type MetricDef, type Scenario } from './types.js';

const USABLE: MetricDef = { metric: 'usable', label: 'all sessions usable after', unit: 'ms', better: 'lower' };
const LOST: MetricDef = { metric: 'lost', label: 'lost or failed bursts', unit: 'count', better: 'lower' };
const P50: MetricDef = { metric: 'p50', label: 'burst echo p50', unit: 'ms', better: 'lower' };
const P99: MetricDef = { metric: 'p99', label: 'burst echo p99', unit: 'ms', better: 'lower' };
const ADDED: MetricDef = { metric: 'added-p99', label: 'added p99 over direct', unit: 'ms', better: 'lower' };

export const rdpLike: Scenario = {
  id: 's5',
  title: 'RDP-like sessions',
  description: (p) =>
    `${p.rdp.sessions} sessions opened at once (usable = a 32-byte hello echoed), then each sends ${p.rdp.burstBytes} bytes every ${p.rdp.intervalMs} ms (${((p.rdp.burstBytes * 1000) / p.rdp.intervalMs / 1000).toFixed(0)} KB/s) and the target echoes it (the same rate back) for ${p.rdp.durationMs / 1000} s. Latency: a burst's write to the arrival of its last echoed byte; every byte checked.`,
  target: 'echo',
  metrics: [USABLE, LOST, P50, P99],
  notes: () => ['Baselines: direct only (the targets compare with direct); socat and ssh -L are left out to keep the full run under 15 minutes.'],
  paths: (_p, tls) => tcpPaths({ tls, socat: false, ssh: false }),
  run: async ({ ctx, profile, def, path, sampled }) => {
    const c = profile.rdp;
    const { result: r, sample } = await sampled(() =>
      runDriver<SessionsResult>(
      ctx,
      {
        mode: 'sessions',
        endpoint: path.endpoint,
        connections: c.sessions,
        openBatch: 0,
        helloBytes: 32,
        messageBytes: c.burstBytes,
        intervalMs: c.intervalMs,
        durationMs: c.durationMs,
        drainMs: 5000,
        timeoutMs: c.durationMs + 120_000,
      },
      c.durationMs + 140_000,
      path.driverEnv,
    ),
    );
    const lost: Figure = { ...figure('s5', def.id, LOST, r.errors, { errors: 0 }, { lost: r.lost, errorSamples: r.errorSamples, messagesSent: r.messagesSent }), errors: r.errors };
    if (r.errors > 0) lost.error = r.errorSamples[0] ?? `${r.lost} bursts not echoed`;
    return [
      figure('s5', def.id, USABLE, r.allUsableMs, r, { opened: r.opened, usableP50: r.usableMs.p50, usableP99: r.usableMs.p99 }),
      lost,
      figure('s5', def.id, P50, r.latencyMs.p50, r),
      figure('s5', def.id, P99, r.latencyMs.p99, r, { max: r.latencyMs.max, samples: r.latencyMs.count, cpuSeconds: cpuDetail(sample, r.cpu) }),
    ];
  },
  derive: (figures) => {
    const direct = figures.find((f) => f.path === 'direct' && f.metric === 'p99' && f.value !== null);
    if (!direct) return [];
    return figures
      .filter((f) => f.metric === 'p99' && f.path !== 'direct')
      .map((f) =>
        f.value === null
          ? { ...f, metric: ADDED.metric, label: ADDED.label }
          : { ...figure('s5', f.path, ADDED, f.value - direct.value!), detail: { p99: f.value, directP99: direct.value } },
      );
  },
};
