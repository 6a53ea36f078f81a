/** Number formatting and baseline ratios shared by the Markdown and SVG reports. */
import type { Figure, ScenarioResult } from './model.js';

export function formatValue(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toPrecision(2);
}

export interface BaselineColumn {
  title: string;
  /** The baseline path id for a figure's path (undefined: no ratio for this row). */
  pathFor(path: string): string | undefined;
}

/** The baselines a scenario has figures for, as ratio columns. */
export function baselineColumns(scenario: ScenarioResult): BaselineColumn[] {
  const ran = new Set(scenario.paths.map((p) => p.id));
  const cols: BaselineColumn[] = [];
  if (ran.has('direct')) cols.push({ title: '× direct', pathFor: () => 'direct' });
  if (ran.has('socat')) cols.push({ title: '× socat', pathFor: () => 'socat' });
  if (ran.has('ssh')) cols.push({ title: '× ssh -L', pathFor: () => 'ssh' });
  if (ran.has('node-chain') || ran.has('node-chain-tls')) {
    // A TLS path is held against the TLS floor, everything else against the plain one.
    cols.push({ title: '× Node floor', pathFor: (path) => floorFor(path, (id) => ran.has(id)) });
  }
  if (ran.has('hyco-ws-ws') || ran.has('hyco-ws-tls')) {
    cols.push({
      title: '× hyco-ws',
      pathFor: (path) => {
        const transport = /-tls(-|$)/.test(path) ? 'tls' : 'ws';
        return ran.has(`hyco-ws-${transport}`) ? `hyco-ws-${transport}` : undefined;
      },
    });
  }
  return cols;
}

/** The floor chain a path is compared with: node-chain-tls for TLS paths when it ran, else node-chain when it ran. */
export function floorFor(path: string, ran: (id: string) => boolean): string | undefined {
  const floor = /-tls(-|$)/.test(path) ? 'node-chain-tls' : 'node-chain';
  return ran(floor) ? floor : undefined;
}

/** value / baseline value for the same metric, formatted; '' when there is nothing to compare. */
export function ratio(figures: Figure[], f: Figure, baselinePath: string | undefined): string {
  if (!baselinePath || f.path === baselinePath || f.value === null) return '';
  const b = figures.find((x) => x.path === baselinePath && x.metric === f.metric);
  if (!b || b.value === null || b.value === 0) return '';
  return `${(f.value / b.value).toFixed(2)}×`;
}
