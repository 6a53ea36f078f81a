/** S1: one connection moving the whole payload, upload and download measured separately. */
import { tcpPaths } from '../paths/catalog.js';
import { bulkFigures } from './bulk.js';
import type { MetricDef, Scenario } from './types.js';

const UPLOAD: MetricDef = { metric: 'upload', label: 'upload', unit: 'MB/s', better: 'higher' };
const DOWNLOAD: MetricDef = { metric: 'download', label: 'download', unit: 'MB/s', better: 'higher' };

export const singleStream: Scenario = {
  id: 's1',
  title: 'Single-stream bulk throughput',
  description: (p) =>
    `One TCP connection carries ${p.bulkBytes / 2 ** 20} MiB of pattern data; upload (client to target, every byte checked by the target) and download (target to client, every byte checked by the driver) run separately. MB/s = 10^6 bytes per second. The cluster row runs the same bridge pair across two relay nodes sharing a Redis (compare it with the bridge -L/-T (WS) row). Each hybridge row's Node floor (× Node floor, targets L1/L2, CPU × floor) is the bare Node chain measured to the same target right before and right after that row, in each direction, so both see the same moments of the machine; the node-chain rows themselves are the floor measured on its own.`,
  target: 'bulk',
  metrics: [UPLOAD, DOWNLOAD],
  paths: (p, tls) => tcpPaths({ tls, hycoWs: p.name === 'full' ? true : 'ws', cluster: true, mux: 2 }),
  run: (run) => bulkFigures(run, 's1', { upload: UPLOAD, download: DOWNLOAD }, run.profile.bulkBytes, 1, { floorBeside: true }),
};
