/** Number formatting and baseline ratios shared by the Markdown and SVG reports. */
import type { Figure, ScenarioResult } from './model.js';
import { pairedFloorOf } from './paired-floor.js';

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
  if (ran.has('node-chain') || ran.has('node-chain-tls') || scenario.figures.some((f) => pairedFloorOf(f) !== undefined)) {
    // A TLS path is held against the TLS floor, everything else against the plain one.
    cols.push({ title: '× Node floor', pathFor: floorFor });
  }
  if (ran.has('hyco-ws-ws') || ran.has('hyco-ws-tls')) cols.push({ title: '× hyco-ws', pathFor: (path) => `hyco-ws-${pathTransport(path)}` });
  return cols;
}

/** A path's transport from its id: TLS paths carry `-tls` (bridge-tls, tunnel-tls-prewarm, node-chain-tls). */
function pathTransport(path: string): 'tls' | 'ws' {
  return /-tls(-|$)/.test(path) ? 'tls' : 'ws';
}

/** The floor chain a path is compared with: node-chain-tls for TLS paths, node-chain for the rest. */
export function floorFor(path: string): string {
  return pathTransport(path) === 'tls' ? 'node-chain-tls' : 'node-chain';
}

/**
 * value / baseline value for the same metric, formatted; '' when there is nothing to compare. A
 * figure's own floor (measured beside it) stands in for the floor path's figure.
 */
export function ratio(figures: Figure[], f: Figure, baselinePath: string | undefined): string {
  if (!baselinePath || f.path === baselinePath || f.value === null) return '';
  const beside = pairedFloorOf(f);
  if (beside && beside.path === baselinePath) return `${(f.value / beside.value).toFixed(2)}×`;
  const b = figures.find((x) => x.path === baselinePath && x.metric === f.metric);
  if (!b || b.value === null || b.value === 0) return '';
  return `${(f.value / b.value).toFixed(2)}×`;
}
