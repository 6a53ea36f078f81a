/**
 * Before/after: the figures of alternating bench runs of two builds (A: the other build, B: this one),
 * as medians per figure and their ratio, CPU costs included (sum and per slot).
 */
import { median } from '../lib/stats.js';
import { costFigures } from './cpu-cost.js';
import { formatValue } from './format.js';
import type { Better, BenchResult, Figure } from './model.js';

export interface ComparedFigure {
  scenario: string;
  path: string;
  metric: string;
  label: string;
  unit: string;
  better: Better;
  a: number[];
  b: number[];
  medianA: number;
  medianB: number;
  /** medianB / medianA. */
  ratio: number;
  /** B better, worse or about the same: 'better'/'worse' only when every B run is on that side of every A run. */
  verdict: 'better' | 'worse' | 'overlap';
}

/** Every figure of a run with a value, and its CPU costs as figures. */
function figuresOf(r: BenchResult): Figure[] {
  return r.scenarios.flatMap((s) => [...s.figures, ...(s.cpuCosts ?? []).flatMap(costFigures)]).filter((f) => f.value !== null);
}

function verdictOf(a: readonly number[], b: readonly number[], better: Better): ComparedFigure['verdict'] {
  const higher = Math.min(...b) > Math.max(...a);
  const lower = Math.max(...b) < Math.min(...a);
  if (!higher && !lower) return 'overlap';
  return higher === (better === 'higher') ? 'better' : 'worse';
}

/** The figures both builds measured (in every run's order of first appearance), with their medians and B / A. */
export function compareRuns(a: readonly BenchResult[], b: readonly BenchResult[]): ComparedFigure[] {
  const key = (f: Figure) => `${f.scenario}\u0000${f.path}\u0000${f.metric}`;
  const collect = (runs: readonly BenchResult[]) => {
    const map = new Map<string, { f: Figure; values: number[] }>();
    for (const run of runs) {
      for (const f of figuresOf(run)) {
        const entry = map.get(key(f)) ?? { f, values: [] };
        entry.values.push(f.value!);
        map.set(key(f), entry);
      }
    }
    return map;
  };
  const inA = collect(a);
  const inB = collect(b);
  const out: ComparedFigure[] = [];
  for (const [k, { f, values }] of inA) {
    const other = inB.get(k);
    if (!other) continue;
    const medianA = median(values);
    const medianB = median(other.values);
    out.push({
      scenario: f.scenario,
      path: f.path,
      metric: f.metric,
      label: f.label,
      unit: f.unit,
      better: f.better,
      a: values,
      b: other.values,
      medianA,
      medianB,
      ratio: medianA === 0 ? Number.NaN : medianB / medianA,
      verdict: verdictOf(values, other.values, f.better),
    });
  }
  return out;
}

export function renderComparison(rows: readonly ComparedFigure[], names: { a: string; b: string }): string {
  const runs = (v: readonly number[]) => v.map(formatValue).join(', ');
  const lines = [
    `A = ${names.a}, B = ${names.b}; medians of alternating runs. B / A > 1 is worse for a figure where lower is better.`,
    '',
    '| scenario | path | figure | unit | A median | B median | B / A | verdict | A runs | B runs |',
    '|---|---|---|---|---:|---:|---:|---|---|---|',
  ];
  for (const r of rows) {
    const verdict = r.verdict === 'overlap' ? 'runs overlap' : `**${r.verdict}**`;
    lines.push(`| ${r.scenario} | ${r.path} | ${r.label} | ${r.unit} | ${formatValue(r.medianA)} | ${formatValue(r.medianB)} | ${Number.isNaN(r.ratio) ? '' : `${r.ratio.toFixed(2)}×`} | ${verdict} | ${runs(r.a)} | ${runs(r.b)} |`);
  }
  return `${lines.join('\n')}\n`;
}
