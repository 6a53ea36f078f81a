/** S4: thousands of concurrent connections echoing 1 KiB every second; errors, latency, memory. */
import { runDriver } from '../lib/tools.js';
import { tcpPaths } from '../paths/catalog.js';
import type { SessionsResult } from '../tools/driver-spec.js';
import { cpuDetail, MEMORY_METRICS, memoryFigures } from './memory.js';
import { figure, type MetricDef, type Scenario } from './types.js';

const ERRORS: MetricDef = { metric: 'errors', label: 'errors', unit: 'count', better: 'lower' };
const OPEN: MetricDef = { metric: 'open', label: 'time to open all', unit: 's', better: 'lower' };
const P50: MetricDef = { metric: 'p50', label: 'echo latency p50', unit: 'ms', better: 'lower' };
const P99: MetricDef = { metric: 'p99', label: 'echo latency p99', unit: 'ms', better: 'lower' };

export const concurrency: Scenario = {
  id: 's4',
  title: 'Concurrent connections',
  description: (p) =>
    `${p.concurrency.connections} connections opened in batches of ${p.concurrency.batch} (each usable once a hello echo came back), then each echoes ${p.concurrency.messageBytes} bytes every second for ${p.concurrency.durationMs / 1000} s (send times spread over the second), every echo checked. Memory: VmRSS sampled every 200 ms, (peak - idle) / connections, per process.`,
  target: 'echo',
  metrics: [ERRORS, OPEN, P50, P99, MEMORY_METRICS.relay, MEMORY_METRICS.sender, MEMORY_METRICS.listener],
  notes: () => [
    'socat is left out: it forks one process per connection, so thousands of connections measure fork(), not forwarding.',
    'ssh -L is left out to keep the full run under 15 minutes (opening its channels takes ~4 s per 1,000); direct is the latency baseline.',
  ],
  // The TLS floor chain shows what TLS alone costs a Node process per connection (T6 over TLS).
  paths: (_p, tls) => tcpPaths({ tls, socat: false, ssh: false, nodeChain: 'tls' }),
  run: async ({ ctx, profile, def, path, sampled }) => {
    const c = profile.concurrency;
    const { result: r, sample } = await sampled(() =>
      runDriver<SessionsResult>(
        ctx,
        {
          mode: 'sessions',
          endpoint: path.endpoint,
          connections: c.connections,
          openBatch: c.batch,
          helloBytes: 16,
          messageBytes: c.messageBytes,
          intervalMs: 1000,
          durationMs: c.durationMs,
          drainMs: 5000,
          timeoutMs: c.durationMs + 180_000,
        },
        c.durationMs + 200_000,
        path.driverEnv,
      ),
    );
    const detail = { cpuSeconds: cpuDetail(sample, r.cpu), opened: r.opened, messagesSent: r.messagesSent, messagesEchoed: r.messagesEchoed, lost: r.lost, errorSamples: r.errorSamples };
    return [
      { ...figure('s4', def.id, ERRORS, r.errors, { errors: 0 }, detail), errors: r.errors, ...(r.errors > 0 ? { error: r.errorSamples[0] ?? `${r.lost} messages lost` } : {}) },
      figure('s4', def.id, OPEN, r.allUsableMs / 1000, r),
      figure('s4', def.id, P50, r.latencyMs.p50, r),
      figure('s4', def.id, P99, r.latencyMs.p99, r, { max: r.latencyMs.max, samples: r.latencyMs.count }),
      ...memoryFigures('s4', def.id, sample.processes, c.connections, r),
    ];
  },
};
