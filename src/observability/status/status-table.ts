import type { RelayStatusView } from './relay-status.js';
import { hycoRates, secondsBetween } from './rates.js';
import { age, bytes } from './units.js';

export { age, bytes };

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
  return { ...second, sampledSeconds: secondsBetween(first, second), rates: hycoRates(first, second) };
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
