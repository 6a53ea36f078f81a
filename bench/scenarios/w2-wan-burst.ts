/** W2: a burst of connections opened at once across the emulated WAN; time until all are usable, in path RTTs. */
import { runDriver } from '../lib/tools.js';
import { wanPaths } from '../paths/catalog.js';
import type { SessionsResult } from '../tools/driver-spec.js';
import { cpuDetail } from './memory.js';
import { figure, type MetricDef } from './types.js';
import { msDetail, wanScenario } from './wan.js';

const ALL: MetricDef = { metric: 'usable', label: 'all usable after', unit: 'RTT', better: 'lower' };
const MEDIAN: MetricDef = { metric: 'usable-p50', label: 'median connection usable after', unit: 'RTT', better: 'lower' };
const AFTER_FIRST: MetricDef = { metric: 'usable-after-first', label: 'all usable after the first', unit: 'RTT', better: 'lower' };

export const wanBurst = wanScenario({
  id: 'w2',
  title: 'WAN burst of connections',
  description: (p) =>
    `The lab of W1 (${p.wan.delayMs} ms one way per link, no loss). ${p.wan.burst} connections opened at once at the client site; each is usable once a 32-byte hello came back from the echo target. Figures: from the first connect() to the last connection usable, the median connection's time to usable, and from the first connection usable to the last, in path RTTs. A prewarm pool covers only its first few connections; the rest of the burst sets up cold. The --mux ${p.wan.mux} paths start with their sessions open and carry the whole burst as streams.`,
  target: 'echo',
  metrics: [ALL, MEDIAN, AFTER_FIRST],
  paths: (p, tls) => wanPaths(tls, { prewarm: p.prewarm, mux: p.wan.mux }),
  run: async ({ ctx, profile, def, path, sampled }, wan) => {
    const { result: r, sample } = await sampled(() =>
      runDriver<SessionsResult>(
        ctx,
        { mode: 'sessions', endpoint: path.endpoint, connections: profile.wan.burst, openBatch: 0, helloBytes: 32, messageBytes: 32, intervalMs: 1000, durationMs: 0, drainMs: 0, timeoutMs: 120_000 },
        140_000,
        path.driverEnv,
      ),
    );
    const detail = { opened: r.opened, ms: msDetail(wan, { all: r.allUsableMs, first: r.firstUsableMs, p50: r.usableMs.p50, p99: r.usableMs.p99 }), cpuSeconds: cpuDetail(sample, r.cpu) };
    return [
      figure('w2', def.id, ALL, wan.inRtts(r.allUsableMs), r, detail),
      figure('w2', def.id, MEDIAN, wan.inRtts(r.usableMs.p50), r, detail),
      figure('w2', def.id, AFTER_FIRST, wan.inRtts(r.allUsableMs - r.firstUsableMs), r, detail),
    ];
  },
});
