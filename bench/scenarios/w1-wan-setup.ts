/** W1: connection set-up across the emulated WAN, in path RTTs. */
import { runDriver } from '../lib/tools.js';
import { wanPaths } from '../paths/catalog.js';
import type { SetupResult } from '../tools/driver-spec.js';
import { cpuDetail } from './memory.js';
import { figure, type MetricDef } from './types.js';
import { msDetail, wanScenario } from './wan.js';

const P50: MetricDef = { metric: 'p50', label: 'set-up p50', unit: 'RTT', better: 'lower' };
const P99: MetricDef = { metric: 'p99', label: 'set-up p99', unit: 'RTT', better: 'lower' };

export const wanSetup = wanScenario({
  id: 'w1',
  title: 'WAN connection set-up',
  description: (p) =>
    `Client, relay and service in separate network namespaces (the network-fault lab, docs/lab.md), ${p.wan.delayMs} ms one way on each of the two links, no loss. ${p.wan.setupCount} sequential connections: connect, write 1 byte, wait for its echo, close (as in S3), timed from connect() to the echo at the client site. Figures are multiples of the path RTT measured by TCP ping-pong at the start (the lab row). Direct TCP crosses both links through the relay node acting as a router (2 RTT: handshake, then the byte); socat and sshd run in the relay's place, ssh -L opens a channel over its established connection. Hybridge paths cold (without and with pre-connected sockets), with --prewarm ${p.prewarm}, and with --mux ${p.wan.mux}, measured once every session is open (its floor is 1 RTT: the stream's open, the first byte behind it and the echo cross the WAN once; the client's handshake is local, the target's next to the listener).`,
  target: 'echo',
  metrics: [P50, P99],
  paths: (p, tls) => wanPaths(tls, { prewarm: p.prewarm, mux: p.wan.mux }),
  run: async ({ ctx, profile, def, path, sampled }, wan) => {
    const count = profile.wan.setupCount;
    const { result: r, sample } = await sampled(() => runDriver<SetupResult>(ctx, { mode: 'setup', endpoint: path.endpoint, count, timeoutMs: 900_000 }, 920_000, path.driverEnv));
    const l = r.latencyMs;
    const detail = { completed: r.completed, ms: msDetail(wan, { p50: l.p50, p95: l.p95, p99: l.p99, max: l.max }), cpuSeconds: cpuDetail(sample, r.cpu) };
    return [figure('w1', def.id, P50, wan.inRtts(l.p50), r, detail), figure('w1', def.id, P99, wan.inRtts(l.p99), r, detail)];
  },
});
