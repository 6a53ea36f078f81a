/** S3: sequential connect, 1-byte echo, close; set-up latency percentiles. */
import { runDriver } from '../lib/tools.js';
import { tcpPaths } from '../paths/catalog.js';
import type { SetupResult } from '../tools/driver-spec.js';
import { cpuDetail } from './memory.js';
import { figure, type MetricDef, type Scenario } from './types.js';

const P50: MetricDef = { metric: 'p50', label: 'set-up p50', unit: 'ms', better: 'lower' };
const P95: MetricDef = { metric: 'p95', label: 'set-up p95', unit: 'ms', better: 'lower' };
const P99: MetricDef = { metric: 'p99', label: 'set-up p99', unit: 'ms', better: 'lower' };

export const connectionSetup: Scenario = {
  id: 's3',
  title: 'Connection set-up',
  description: (p) =>
    `${p.setupCount} sequential connections: connect, write 1 byte, wait for its echo (timed: connect() to echo), close. Hybridge with and without --prewarm ${p.prewarm}, and with --mux 2 (each connection a stream of a multiplexed session, no relay round trip); for ssh -L each connection is a new channel over the established ssh connection. The cluster row sets every connection up across two relay nodes sharing a Redis (compare it with the bridge -L/-T (WS) row).`,
  target: 'echo',
  metrics: [P50, P95, P99],
  paths: (p, tls) => tcpPaths({ tls, hycoWs: p.name === 'full' ? 'ws' : false, prewarm: p.prewarm, prewarmTunnel: p.name === 'full', cluster: true, mux: 2 }),
  run: async ({ ctx, profile, def, path, sampled }) => {
    const { result: r, sample } = await sampled(() =>
      runDriver<SetupResult>(ctx, { mode: 'setup', endpoint: path.endpoint, count: profile.setupCount, timeoutMs: 180_000 }, 200_000, path.driverEnv),
    );
    const detail = { completed: r.completed, max: r.latencyMs.max, mean: r.latencyMs.mean, cpuSeconds: cpuDetail(sample, r.cpu) };
    return [figure('s3', def.id, P50, r.latencyMs.p50, r, detail), figure('s3', def.id, P95, r.latencyMs.p95, r, detail), figure('s3', def.id, P99, r.latencyMs.p99, r, detail)];
  },
};
