/** S7: UDP datagrams through bridge -L ...U / -T ...U vs direct and socat. */
import { runDriver } from '../lib/tools.js';
import { udpPaths } from '../paths/catalog.js';
import type { UdpResult } from '../tools/driver-spec.js';
import { cpuDetail } from './memory.js';
import { figure, type MetricDef, type Scenario } from './types.js';

const RATE: MetricDef = { metric: 'rate', label: 'datagrams echoed', unit: 'dgram/s', better: 'higher' };
const LOSS: MetricDef = { metric: 'loss', label: 'loss', unit: '%', better: 'lower' };
const P99: MetricDef = { metric: 'p99', label: 'round trip p99', unit: 'ms', better: 'lower' };

export const udpScenario: Scenario = {
  id: 's7',
  title: 'UDP datagrams',
  description: (p) =>
    `${p.udp.size}-byte datagrams, ${p.udp.window} in flight (closed loop: each echo releases the next send), for ${p.udp.durationMs / 1000} s; a datagram not back within 500 ms counts as lost. Every datagram checked. The rate counts round trips (each datagram crosses the path twice).`,
  target: 'udp',
  metrics: [RATE, LOSS, P99],
  paths: (p, tls) => udpPaths(tls, p.name !== 'quick'),
  run: async ({ ctx, profile, def, path, sampled }) => {
    const u = profile.udp;
    const { result: r, sample } = await sampled(() =>
      runDriver<UdpResult>(ctx, { mode: 'udp', endpoint: path.endpoint, size: u.size, window: u.window, durationMs: u.durationMs, lossTimeoutMs: 500 }, u.durationMs + 30_000, path.driverEnv),
    );
    const detail = { sent: r.sent, received: r.received, lost: r.lost, late: r.late, cpuSeconds: cpuDetail(sample, r.cpu) };
    return [
      figure('s7', def.id, RATE, r.datagramsPerSecond, r, detail),
      { ...figure('s7', def.id, LOSS, r.lossPercent, r, detail) },
      figure('s7', def.id, P99, r.rttMs.p99, r, { p50: r.rttMs.p50 }),
    ];
  },
};
