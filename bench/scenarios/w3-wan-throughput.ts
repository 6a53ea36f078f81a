/** W3: single-stream throughput across the emulated WAN, without loss and with loss on both links. */
import { wanPaths } from '../paths/catalog.js';
import type { Figure } from '../report/model.js';
import { bulkFigures } from './bulk.js';
import type { MetricDef } from './types.js';
import { wanScenario } from './wan.js';

const UPLOAD: MetricDef = { metric: 'upload', label: 'upload, no loss', unit: 'MB/s', better: 'higher' };
const DOWNLOAD: MetricDef = { metric: 'download', label: 'download, no loss', unit: 'MB/s', better: 'higher' };
const UPLOAD_LOSSY: MetricDef = { metric: 'upload-lossy', label: 'upload, lossy links', unit: 'MB/s', better: 'higher' };
const DOWNLOAD_LOSSY: MetricDef = { metric: 'download-lossy', label: 'download, lossy links', unit: 'MB/s', better: 'higher' };

export const wanThroughput = wanScenario({
  id: 'w3',
  title: 'WAN single-stream throughput',
  description: (p) =>
    `The lab of W1 (${p.wan.delayMs} ms one way per link). One connection moves ${p.wan.bulkBytes / 2 ** 20} MiB each way without loss, then ${p.wan.lossyBytes / 1024} KiB each way with ${p.wan.lossPercent} % loss on each link in each direction (independent per packet; a direct connection crosses both links, so it sees about ${(100 * (1 - (1 - p.wan.lossPercent / 100) ** 2)).toFixed(1)} % per direction, while socat, ssh and hybridge end a TCP connection at the relay site and each of their legs sees one link). Every byte checked as in S1. MB/s = 10^6 bytes per second, slow start included.`,
  target: 'bulk',
  metrics: [UPLOAD, DOWNLOAD, UPLOAD_LOSSY, DOWNLOAD_LOSSY],
  paths: (_p, tls) => wanPaths(tls),
  run: async (run, wan) => {
    const { wan: w } = run.profile;
    const figures: Figure[] = await bulkFigures(run, 'w3', { upload: UPLOAD, download: DOWNLOAD }, w.bulkBytes, 1);
    await wan.setLoss(w.lossPercent);
    try {
      figures.push(...(await bulkFigures(run, 'w3', { upload: UPLOAD_LOSSY, download: DOWNLOAD_LOSSY }, w.lossyBytes, 1)));
    } finally {
      await wan.setLoss(0);
    }
    return figures;
  },
});
