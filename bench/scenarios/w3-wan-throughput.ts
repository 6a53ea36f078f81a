/**
 * W3: throughput across the emulated WAN, without loss and with loss on both links: one stream,
 * then several at once (the head-of-line case: over one multiplexed session they share one TCP
 * connection per leg, and a lost segment holds up all of them; separate relayed connections do not
 * wait for each other). Multiplexed paths are held against the same path without --mux.
 */
import { wanPaths } from '../paths/catalog.js';
import type { Figure } from '../report/model.js';
import { bulkFigures } from './bulk.js';
import { figure, type MetricDef } from './types.js';
import { wanScenario } from './wan.js';

const metric = (id: string, label: string, unit = 'MB/s'): MetricDef => ({ metric: id, label, unit, better: 'higher' });
const UPLOAD = metric('upload', 'upload, no loss');
const DOWNLOAD = metric('download', 'download, no loss');
const UPLOAD_LOSSY = metric('upload-lossy', 'upload, lossy links');
const DOWNLOAD_LOSSY = metric('download-lossy', 'download, lossy links');
const UPLOAD_MANY = metric('upload-many', 'streams at once, upload, no loss (aggregate)');
const DOWNLOAD_MANY = metric('download-many', 'streams at once, download, no loss (aggregate)');
const UPLOAD_MANY_LOSSY = metric('upload-many-lossy', 'streams at once, upload, lossy links (aggregate)');
const DOWNLOAD_MANY_LOSSY = metric('download-many-lossy', 'streams at once, download, lossy links (aggregate)');

/** Each measured figure of a multiplexed path as a share of the same path without --mux. */
const RATIOS: [MetricDef, MetricDef][] = [UPLOAD, DOWNLOAD, UPLOAD_LOSSY, DOWNLOAD_LOSSY, UPLOAD_MANY, DOWNLOAD_MANY, UPLOAD_MANY_LOSSY, DOWNLOAD_MANY_LOSSY].map((m) => [
  m,
  metric(`${m.metric}-vs-plain`, `${m.label}, mux / no mux`, 'x'),
]);

/** The multiplexed path's counterpart without --mux (same transport, same defaults). */
export function plainPathOf(muxPath: string): string | undefined {
  return muxPath.endsWith('-mux') ? muxPath.slice(0, -'-mux'.length) : undefined;
}

export const wanThroughput = wanScenario({
  id: 'w3',
  title: 'WAN throughput, one stream and several at once',
  description: (p) => {
    const { wan: w } = p;
    return `The lab of W1 (${p.wan.delayMs} ms one way per link). One connection moves ${w.bulkBytes / 2 ** 20} MiB each way without loss, then ${w.lossyBytes / 1024} KiB each way with ${w.lossPercent} % loss on each link in each direction (independent per packet; a direct connection crosses both links, so it sees about ${(100 * (1 - (1 - w.lossPercent / 100) ** 2)).toFixed(1)} % per direction, while socat, ssh and hybridge end a TCP connection at the relay site and each of their legs sees one link). Then ${w.hol.streams} connections at once, each moving ${w.hol.bytesPerStream / 2 ** 20} MiB each way without loss and ${w.hol.lossyBytesPerStream / 1024} KiB each way with loss (aggregate MB/s, the slowest stream in the detail). The --mux 1 paths carry every connection as a stream of one session, so all streams share one TCP connection per leg (as ssh -L's channels do); "mux / no mux" divides their figure by the same path's without --mux, whose connections are relayed connections of their own. Every byte checked as in S1. MB/s = 10^6 bytes per second, slow start included.`;
  },
  target: 'bulk',
  metrics: [UPLOAD, DOWNLOAD, UPLOAD_LOSSY, DOWNLOAD_LOSSY, UPLOAD_MANY, DOWNLOAD_MANY, UPLOAD_MANY_LOSSY, DOWNLOAD_MANY_LOSSY],
  // One session for every stream: the head-of-line case at its worst.
  paths: (_p, tls) => wanPaths(tls, { mux: 1 }),
  run: async (run, wan) => {
    const { wan: w } = run.profile;
    const figures: Figure[] = await bulkFigures(run, 'w3', { upload: UPLOAD, download: DOWNLOAD }, w.bulkBytes, 1);
    figures.push(...(await bulkFigures(run, 'w3', { upload: UPLOAD_MANY, download: DOWNLOAD_MANY }, w.hol.bytesPerStream, w.hol.streams)));
    await wan.setLoss(w.lossPercent);
    try {
      figures.push(...(await bulkFigures(run, 'w3', { upload: UPLOAD_LOSSY, download: DOWNLOAD_LOSSY }, w.lossyBytes, 1)));
      figures.push(...(await bulkFigures(run, 'w3', { upload: UPLOAD_MANY_LOSSY, download: DOWNLOAD_MANY_LOSSY }, w.hol.lossyBytesPerStream, w.hol.streams)));
    } finally {
      await wan.setLoss(0);
    }
    return figures;
  },
  derive: (figures) => {
    const ratios: Figure[] = [];
    for (const [measured, ratio] of RATIOS) {
      for (const mux of figures.filter((f) => f.metric === measured.metric && plainPathOf(f.path))) {
        const plain = figures.find((f) => f.metric === measured.metric && f.path === plainPathOf(mux.path));
        if (!plain || plain.value === null || mux.value === null) continue;
        ratios.push({ ...figure('w3', mux.path, ratio, mux.value / plain.value), detail: { mux: mux.value, plain: plain.value } });
      }
    }
    return ratios;
  },
});
