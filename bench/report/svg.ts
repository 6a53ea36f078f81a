/**
 * latest.svg: horizontal bars per path for the figures people compare first (throughput, set-up,
 * concurrency, HTTP, UDP). Hand-written SVG, no dependencies.
 */
import { costFigures } from './cpu-cost.js';
import { formatValue } from './format.js';
import type { BenchResult, Figure, PathInfo } from './model.js';

interface Panel {
  scenario: string;
  metric: string;
  title: string;
}

const PANELS: Panel[] = [
  { scenario: 's1', metric: 'download', title: 'Single stream, download (MB/s, higher is better)' },
  { scenario: 's1', metric: 'upload', title: 'Single stream, upload (MB/s, higher is better)' },
  { scenario: 's2', metric: 'download', title: '8 streams, aggregate download (MB/s, higher is better)' },
  { scenario: 's1', metric: 'cpu-download', title: 'Single stream: CPU of both ends and the relay per GiB downloaded (s, lower is better)' },
  { scenario: 's3', metric: 'p99', title: 'Connection set-up p99 (ms, lower is better)' },
  { scenario: 's3', metric: 'cpu-set-up', title: 'Connection set-up: CPU of both ends and the relay per connection (ms, lower is better)' },
  { scenario: 's4', metric: 'p99', title: 'Concurrent connections: echo latency p99 (ms, lower is better)' },
  { scenario: 's4', metric: 'mem-relay', title: 'Concurrent connections: relay memory per connection (KiB, lower is better)' },
  { scenario: 's5', metric: 'usable', title: 'RDP-like sessions: all usable after (ms, lower is better)' },
  { scenario: 's6', metric: 'rps', title: 'HTTP small GETs (req/s, higher is better)' },
  { scenario: 's6', metric: 'large-p50', title: 'HTTP 1.5 MB response p50 (ms, lower is better)' },
  { scenario: 's7', metric: 'rate', title: 'UDP 1,200-byte datagrams echoed (per s, higher is better)' },
  { scenario: 'w1', metric: 'p50', title: 'WAN connection set-up p50 (path RTTs, lower is better)' },
  { scenario: 'w2', metric: 'usable', title: 'WAN burst: all connections usable after (path RTTs, lower is better)' },
  { scenario: 'w3', metric: 'download-lossy', title: 'WAN single stream, download over lossy links (MB/s, higher is better)' },
];

const WIDTH = 960;
const LABEL_W = 300;
const BAR_W = 520;
const ROW = 20;

function colour(p: PathInfo | undefined): string {
  if (!p || p.kind === 'baseline') return '#9aa0a6';
  if (p.kind === 'library') return '#f29900';
  return p.transport === 'tls' ? '#174ea6' : '#4285f4';
}

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function renderSvg(r: BenchResult): string {
  const parts: string[] = [];
  let y = 20;
  const m = r.machine;
  parts.push(`<text x="10" y="${y}" font-size="16" font-weight="bold">hybridge benchmark (${esc(r.mode)}), ${esc(r.date.slice(0, 10))}</text>`);
  y += 18;
  parts.push(`<text x="10" y="${y}" font-size="12" fill="#555">${esc(`${m.cpu}, ${m.cores} cores, Node ${m.node}; all processes on 127.0.0.1 (W1-W3: in network namespaces)`)}</text>`);
  y += 20;
  const legend: [string, string][] = [
    ['baseline', '#9aa0a6'],
    ['hybridge, plain WebSocket', '#4285f4'],
    ['hybridge, TLS', '#174ea6'],
    ['hyco-ws library', '#f29900'],
  ];
  let lx = 10;
  for (const [text, fill] of legend) {
    parts.push(`<rect x="${lx}" y="${y - 10}" width="12" height="12" fill="${fill}"/><text x="${lx + 16}" y="${y}" font-size="12">${esc(text)}</text>`);
    lx += 30 + text.length * 7;
  }
  y += 14;
  for (const panel of PANELS) {
    const s = r.scenarios.find((x) => x.id === panel.scenario);
    if (!s) continue;
    const all = [...s.figures, ...(s.cpuCosts ?? []).flatMap(costFigures)];
    const figures = s.paths.map((p) => all.find((f) => f.path === p.id && f.metric === panel.metric)).filter((f): f is Figure => f !== undefined);
    if (figures.length === 0) continue;
    const values = figures.map((f) => f.value ?? 0).filter((v) => v > 0);
    const max = Math.max(...values, 1e-9);
    const min = Math.min(...values, max);
    // Values that span more than 30x are drawn on a log scale, so the small bars stay readable.
    const log = max / min > 30;
    const floor = Math.log10(min) - 0.5;
    const length = (v: number) => (log ? ((Math.log10(v) - floor) / (Math.log10(max) - floor)) * BAR_W : (v / max) * BAR_W);
    y += 22;
    parts.push(`<text x="10" y="${y}" font-size="13" font-weight="bold">${esc(panel.title)}${log ? ' (log scale)' : ''}</text>`);
    y += 6;
    for (const f of figures) {
      const info = s.paths.find((p) => p.id === f.path);
      const label = info?.label ?? f.path;
      parts.push(`<text x="${LABEL_W - 8}" y="${y + 14}" font-size="12" text-anchor="end">${esc(label)}</text>`);
      if (f.value === null) {
        parts.push(`<text x="${LABEL_W}" y="${y + 14}" font-size="12" fill="#d93025">error: ${esc((f.error ?? '').slice(0, 70))}</text>`);
      } else {
        const w = Math.max(1, f.value > 0 ? length(f.value) : 0);
        parts.push(`<rect x="${LABEL_W}" y="${y + 3}" width="${w.toFixed(1)}" height="${ROW - 6}" fill="${colour(info)}"/>`);
        parts.push(`<text x="${(LABEL_W + w + 6).toFixed(1)}" y="${y + 14}" font-size="12">${esc(formatValue(f.value))}</text>`);
      }
      y += ROW;
    }
  }
  y += 16;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${y}" viewBox="0 0 ${WIDTH} ${y}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
