import type { RelayStatusView } from './relay-status.js';

/** Bytes per second per hybrid connection between two status samples. */
export interface Rates {
  [hyco: string]: { toListener: number; toSender: number };
}

/** The status with each hybrid connection's rates, as `hybridge status -o json` prints it. */
export interface StatusReport extends RelayStatusView {
  /** Seconds between the two samples the rates come from (0: no rates). */
  sampledSeconds: number;
  rates: Rates;
}

/** Rates from two samples of the same node (a byte count that went down, after a restart, counts as 0). */
export function statusReport(first: RelayStatusView | undefined, second: RelayStatusView): StatusReport {
  const seconds = first ? (Date.parse(second.time) - Date.parse(first.time)) / 1000 : 0;
  const rates: Rates = {};
  for (const hc of second.hybridConnections) {
    const before = first?.hybridConnections.find((h) => h.name === hc.name);
    const rate = (now: number, then: number | undefined) => (seconds > 0 && then !== undefined ? Math.max(0, now - then) / seconds : 0);
    rates[hc.name] = { toListener: rate(hc.bytesToListener, before?.bytesToListener), toSender: rate(hc.bytesToSender, before?.bytesToSender) };
  }
  return { ...second, sampledSeconds: seconds, rates };
}

/** One screen, like `kubectl get`: the hybrid connections, then the listeners, then the connections. */
export function formatStatus(report: StatusReport, relay: string, now = Date.parse(report.time)): string {
  const out: string[] = [];
  const cluster = report.cluster ? `${report.cluster.nodes.length} nodes (${report.cluster.nodes.join(', ')}), Redis ${report.cluster.redisUp ? 'up' : 'DOWN'}` : 'standalone';
  out.push(`RELAY ${relay}   NODE ${report.node}   ${cluster}   UP ${age(now - Date.parse(report.startedAt))}`);
  out.push('');
  const rated = report.sampledSeconds > 0;
  out.push(
    ...table(
      ['HYBRID CONNECTION', 'LISTENERS', 'CONNECTIONS', 'TO LISTENER', 'TO SENDER', ...(rated ? ['RATE TO LISTENER', 'RATE TO SENDER'] : []), 'CLIENT AUTH'],
      report.hybridConnections.map((hc) => {
        const rate = report.rates[hc.name] ?? { toListener: 0, toSender: 0 };
        return [hc.name, String(hc.listeners), String(hc.activeConnections), bytes(hc.bytesToListener), bytes(hc.bytesToSender), ...(rated ? [`${bytes(rate.toListener)}/s`, `${bytes(rate.toSender)}/s`] : []), hc.requiresClientAuthorization ? 'required' : 'anonymous'];
      }),
    ),
  );
  if (report.listeners.length > 0) {
    out.push('');
    out.push(...table(['LISTENER', 'HYBRID CONNECTION', 'ADDRESS', 'ONLINE FOR', 'NODE'], report.listeners.map((l) => [l.listenerId, l.hyco, l.remote ?? '-', age(now - Date.parse(l.since)), l.node])));
  }
  if (report.connections.length > 0) {
    out.push('');
    out.push(...table(['TRACKING ID', 'HYBRID CONNECTION', 'LISTENER', 'OPEN FOR', 'TO LISTENER', 'TO SENDER'], report.connections.map((c) => [c.trackingId ?? '-', c.hyco, c.listenerId ?? '-', age(now - Date.parse(c.since)), bytes(c.bytesToListener), bytes(c.bytesToSender)])));
  }
  return out.join('\n') + '\n';
}

function table(header: string[], rows: string[][]): string[] {
  if (rows.length === 0) return [header.join('   '), '(none)'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('   ');
  return [line(header), ...rows.map(line)];
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** 1536 → "1.5 KiB". */
export function bytes(n: number): string {
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value < 10 ? value.toFixed(1) : Math.round(value)} ${UNITS[unit]}`;
}

/** 95_000 ms → "1m35s". */
export function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86_400)}d${String(Math.floor((s % 86_400) / 3600)).padStart(2, '0')}h`;
}
