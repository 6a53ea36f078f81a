/** S2: eight connections at once; the figure is the aggregate rate. */
import { tcpPaths } from '../paths/catalog.js';
import { bulkFigures } from './bulk.js';
import type { MetricDef, Scenario } from './types.js';

const UPLOAD: MetricDef = { metric: 'upload', label: 'aggregate upload', unit: 'MB/s', better: 'higher' };
const DOWNLOAD: MetricDef = { metric: 'download', label: 'aggregate download', unit: 'MB/s', better: 'higher' };

export const parallelStreams: Scenario = {
  id: 's2',
  title: 'Parallel streams (aggregate throughput)',
  description: (p) =>
    `${p.parallel.streams} connections at once, each moving ${p.parallel.bytesPerStream / 2 ** 20} MiB (every stream checked); aggregate MB/s from the first connect to the last stream's end, upload and download separately.`,
  target: 'bulk',
  metrics: [UPLOAD, DOWNLOAD],
  paths: (p, tls) => tcpPaths({ tls, ssh: p.name !== 'quick', hycoWs: p.name === 'full' ? 'ws' : false }),
  run: (run) => bulkFigures(run, 's2', { upload: UPLOAD, download: DOWNLOAD }, run.profile.parallel.bytesPerStream, run.profile.parallel.streams),
};
