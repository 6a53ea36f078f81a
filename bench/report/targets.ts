/** The targets, evaluated on figures of the same run. */
import { floorFor, formatValue } from './format.js';
import type { Figure, ScenarioResult, TargetResult, TargetStatus } from './model.js';

type Lookup = (scenario: string, path: string, metric: string) => Figure | undefined;

const fmt = formatValue;

interface Check {
  status: TargetStatus;
  measured: string;
}

function worst(checks: Check[]): Check {
  const status: TargetStatus = checks.some((c) => c.status === 'MISS') ? 'MISS' : checks.some((c) => c.status === 'N/A') ? 'N/A' : 'PASS';
  return { status, measured: checks.map((c) => c.measured).join('; ') };
}

/** value / baseline ≥ factor (higher is better). */
function ratioAtLeast(get: Lookup, s: string, path: string, metric: string, baseline: string, factor: number): Check {
  const f = get(s, path, metric);
  const b = get(s, baseline, metric);
  if (!f) return { status: 'N/A', measured: `${metric}: not measured` };
  if (f.value === null) return { status: 'MISS', measured: `${metric}: ${f.errors} errors (${f.error})` };
  if (!b || b.value === null) return { status: 'N/A', measured: `${metric}: no ${baseline} baseline in this run` };
  const ratio = f.value / b.value;
  return { status: ratio >= factor ? 'PASS' : 'MISS', measured: `${metric} ${ratio.toFixed(2)}× (${fmt(f.value)} vs ${fmt(b.value)} ${f.unit})` };
}

function below(get: Lookup, s: string, path: string, metric: string, limit: number, inclusive = false): Check {
  const f = get(s, path, metric);
  if (!f) return { status: 'N/A', measured: `${metric}: not measured` };
  if (f.value === null) return { status: 'MISS', measured: `${metric}: ${f.errors} errors (${f.error})` };
  const ok = inclusive ? f.value <= limit : f.value < limit;
  return { status: ok ? 'PASS' : 'MISS', measured: `${f.label} ${fmt(f.value)} ${f.unit}` };
}

/**
 * The same check on the bare three-process Node chain (the TLS one for a TLS path), appended to a
 * hybridge path's figure: how far the process shape alone gets on this machine. Unchanged when that
 * floor did not run.
 */
function withFloor(get: Lookup, check: Check, s: string, path: string, metric: string, baseline?: string): Check {
  const floorPath = floorFor(path);
  const floor = get(s, floorPath, metric);
  if (!floor || floor.value === null) return check;
  const b = baseline ? get(s, baseline, metric) : undefined;
  if (baseline && (!b || b.value === null)) return check;
  const shown = b ? `${(floor.value / b.value!).toFixed(2)}×` : `${fmt(floor.value)} ${floor.unit}`;
  return { ...check, measured: `${check.measured} [${floorPath === 'node-chain-tls' ? 'Node TLS floor' : 'Node floor'} ${shown}]` };
}

function ranPaths(scenarios: ScenarioResult[], s: string): string[] {
  return scenarios.find((r) => r.id === s)?.paths.map((p) => p.id) ?? [];
}

export function evaluateTargets(scenarios: ScenarioResult[]): TargetResult[] {
  const figures = scenarios.flatMap((s) => s.figures);
  const get: Lookup = (s, path, metric) => figures.find((f) => f.scenario === s && f.path === path && f.metric === metric);
  const out: TargetResult[] = [];
  const add = (id: string, text: string, s: string, pathFilter: (p: string) => boolean, check: (path: string) => Check) => {
    for (const path of ranPaths(scenarios, s).filter(pathFilter)) out.push({ id, text, path, ...check(path) });
  };
  const hybridge = /^(bridge|tunnel)-/;
  const plainWs = (p: string) => /^(bridge|tunnel)-ws$/.test(p);
  const tls = (p: string) => /^(bridge|tunnel)-tls$/.test(p);
  const noPrewarm = (p: string) => hybridge.test(p) && !p.endsWith('-prewarm');
  const prewarm = (p: string) => hybridge.test(p) && p.endsWith('-prewarm');
  const both = (f: (metric: string) => Check) => worst([f('upload'), f('download')]);

  add('T1', 'single stream over plain WS ≥ 1.5× ssh -L', 's1', plainWs, (p) => both((m) => withFloor(get, ratioAtLeast(get, 's1', p, m, 'ssh', 1.5), 's1', p, m, 'ssh')));
  add('T2', 'single stream over plain WS ≥ 0.6× socat', 's1', plainWs, (p) => both((m) => withFloor(get, ratioAtLeast(get, 's1', p, m, 'socat', 0.6), 's1', p, m, 'socat')));
  add('T3', 'single stream over TLS ≥ 1.0× ssh -L', 's1', tls, (p) => both((m) => withFloor(get, ratioAtLeast(get, 's1', p, m, 'ssh', 1.0), 's1', p, m, 'ssh')));
  add('T4', 'set-up p99 < 10 ms without prewarm', 's3', noPrewarm, (p) => withFloor(get, below(get, 's3', p, 'p99', 10), 's3', p, 'p99'));
  add('T5', "set-up p99 with --prewarm ≤ 1.5× ssh -L's", 's3', prewarm, (p) => {
    const f = get('s3', p, 'p99');
    const ssh = get('s3', 'ssh', 'p99');
    if (!f) return { status: 'N/A', measured: 'not measured' };
    if (f.value === null) return { status: 'MISS', measured: `${f.errors} errors (${f.error})` };
    if (!ssh || ssh.value === null) return { status: 'N/A', measured: 'no ssh -L baseline in this run' };
    const ratio = f.value / ssh.value;
    return { status: ratio <= 1.5 ? 'PASS' : 'MISS', measured: `p99 ${fmt(f.value)} ms = ${ratio.toFixed(2)}× ssh -L's ${fmt(ssh.value)} ms` };
  });
  add('T6', 'concurrent connections: zero errors, ≤ 40 KiB relay memory per connection', 's4', noPrewarm, (p) => {
    const errors = get('s4', p, 'errors');
    const mem = withFloor(get, below(get, 's4', p, 'mem-relay', 40, true), 's4', p, 'mem-relay');
    const connections = Number(errors?.detail?.opened ?? 0);
    if (errors && connections < 5000 && errors.errors === 0) {
      return { status: 'N/A', measured: `0 errors over ${connections} connections; relay ${mem.measured} (the target is defined for 5,000 connections; a smaller run spreads fixed costs over fewer)` };
    }
    const e: Check = !errors
      ? { status: 'N/A', measured: 'not measured' }
      : errors.value === null || errors.errors > 0
        ? { status: 'MISS', measured: `${errors.errors} errors (${errors.error})` }
        : { status: 'PASS', measured: `0 errors over ${String(connections)} connections` };
    return worst([e, mem]);
  });
  add('T7', 'all RDP-like sessions usable within 2 s, zero loss', 's5', noPrewarm, (p) => worst([below(get, 's5', p, 'usable', 2000, true), below(get, 's5', p, 'lost', 0, true)]));
  add('T8', 'HTTP small-GET rate through the relay ≥ 40% of direct', 's6', hybridge.test.bind(hybridge), (p) => ratioAtLeast(get, 's6', p, 'rps', 'direct', 0.4));
  add('T9', '1.5 MB response p50 < 50 ms', 's6', hybridge.test.bind(hybridge), (p) => below(get, 's6', p, 'large-p50', 50));
  add('W1', 'cold WAN set-up p50 ≤ 3 path RTTs (no prewarm, issue 19)', 'w1', noPrewarm, (p) => below(get, 'w1', p, 'p50', 3, true));
  return out;
}
