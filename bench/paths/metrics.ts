/**
 * The cost of metrics: two bridge -L/-T paths through two relays, one with no metrics anywhere
 * (relay --no-metrics, ends without --metrics-addr), one with metrics everywhere (relay and both ends
 * with --metrics-addr) and a scraper reading all three every second, as Prometheus would. Scenarios
 * s8 and s9 alternate between them, so the machine's drift hits both alike.
 */
import { freePort, HOST } from '../lib/net.js';
import { startTcpBridgePair } from './bridge.js';
import { startRelay } from './relay.js';
import { missingCommands, startPathProcesses, type PathDef, type RunningPath } from './types.js';

export const SCRAPE_INTERVAL_MS = 1000;

export const metricsPath: PathDef = {
  id: 'bridge-ws-metrics',
  label: 'bridge -L/-T (WS), metrics off / on',
  kind: 'hybridge',
  transport: 'ws',
  unavailable: (ctx) => missingCommands(ctx, 'server', 'bridge'),
  start: async (ctx, target) => {
    const metricsPorts = { relay: await freePort(), listener: await freePort(), sender: await freePort() };
    const path = await startPathProcesses(async (procs) => {
      const off = await startRelay(ctx, 'ws', undefined, ['--no-metrics']);
      procs.push(off.proc);
      const plain = await startTcpBridgePair(ctx, { listenerRelay: off, senderRelay: off, target }, procs);
      const on = await startRelay(ctx, 'ws', undefined, ['--metrics-addr', `${HOST}:${metricsPorts.relay}`]);
      procs.push(on.proc);
      const args = { listener: ['--metrics-addr', `${HOST}:${metricsPorts.listener}`], sender: ['--metrics-addr', `${HOST}:${metricsPorts.sender}`] };
      const measured = await startTcpBridgePair(ctx, { listenerRelay: on, senderRelay: on, target, args }, procs);
      const pids = (relay: { proc: { pid: number } }, ends: typeof plain) => [relay.proc.pid, ...ends.watched.map((w) => w.pid)];
      return {
        endpoint: plain.endpoint,
        variants: { off: plain.endpoint, on: measured.endpoint },
        variantPids: { off: pids(off, plain), on: pids(on, measured) },
        watched: [{ slot: 'relay', role: 'hybridge server', pid: on.proc.pid }, ...measured.watched],
      };
    });
    return withScraper(path, Object.values(metricsPorts).map((port) => `http://${HOST}:${port}/metrics`));
  },
};

/** Reads every /metrics endpoint each second until the path stops (a scrape that fails is ignored). */
function withScraper(path: RunningPath, urls: string[]): RunningPath {
  const timer = setInterval(() => {
    for (const url of urls) void fetch(url).then((r) => r.text(), () => undefined);
  }, SCRAPE_INTERVAL_MS);
  const stop = path.stop;
  return {
    ...path,
    stop: async () => {
      clearInterval(timer);
      await stop();
    },
  };
}
