/**
 * The bench's CPU accounting and its loopback targets: the /proc/PID/stat reader, CPU per GiB and
 * per connection from a measurement's CPU detail, the ratio-to-floor targets (L1-L3) and the
 * before/after comparison. Behaviour only: every figure here is given, not measured.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { cpuSecondsOf, cpuTicks, parseStatTicks, TICKS_PER_SECOND } from '../../bench/lib/cpu.js';
import { cpuSlotsOf, unwatchedProcesses } from '../../bench/lib/sampler.js';
import { compareRuns } from '../../bench/report/compare.js';
import { costFigures, costToFloor, cpuCosts } from '../../bench/report/cpu-cost.js';
import type { BenchResult, Figure, ScenarioResult } from '../../bench/report/model.js';
import { evaluateTargets } from '../../bench/report/targets.js';

const GiB = 2 ** 30;

function fig(scenario: string, path: string, metric: string, value: number | null, detail?: Record<string, unknown>): Figure {
  const better = /^p\d+$/.test(metric) ? 'lower' : 'higher';
  return { scenario, path, metric, label: metric, value, unit: better === 'lower' ? 'ms' : 'MB/s', better, errors: value === null ? 1 : 0, ...(value === null ? { error: 'boom' } : {}), ...(detail ? { detail } : {}) };
}

function scenario(id: string, figures: Figure[]): ScenarioResult {
  const paths = [...new Set(figures.map((f) => f.path))].map((p) => ({ id: p, label: p, kind: /^(bridge|tunnel)-/.test(p) ? ('hybridge' as const) : ('baseline' as const) }));
  return { id, title: id, description: '', paths, figures, notes: [], seconds: 1 };
}

const BRIDGE_SLOTS = { 'hybridge server': 'relay', 'bridge -L': 'sender', 'bridge -T': 'listener', target: 'target' };

describe('bench CPU reader (/proc/PID/stat)', () => {
  test('reads utime and stime after the command name, even when it holds spaces and parentheses', () => {
    const line = '4242 (node (worker) x) S 1 4242 4242 0 -1 4194560 1200 0 3 0 1234 567 8 9 20 0 11 0 100 1000000 2000 18446744073709551615\n';
    assert.deepEqual(parseStatTicks(line), { user: 1234, system: 567 });
    assert.throws(() => parseStatTicks('not a stat line'), /not a \/proc\/PID\/stat line/);
  });

  test('the tick rate is getconf CLK_TCK, and this process\'s CPU time grows while it computes', () => {
    assert.equal(TICKS_PER_SECOND, Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()));
    const before = cpuTicks(process.pid)!;
    const seconds = cpuSecondsOf(process.pid)!;
    assert.ok(before.user >= 0 && before.system >= 0 && seconds >= 0);
    // Spin until the kernel has charged at least two more ticks (bounded: 5 s of wall time).
    const started = Date.now();
    let now = before;
    while (now.user + now.system < before.user + before.system + 2 && Date.now() - started < 5000) now = cpuTicks(process.pid)!;
    assert.ok(now.user + now.system >= before.user + before.system + 2, `ticks ${JSON.stringify(before)} -> ${JSON.stringify(now)}`);
    assert.ok(cpuSecondsOf(process.pid)! > seconds);
  });

  test('a process that is gone has no CPU time', () => {
    assert.equal(cpuTicks(2 ** 22 + 1), undefined);
    assert.equal(cpuSecondsOf(2 ** 22 + 1), undefined);
  });

  test('slots by role, and the processes of a path that nobody watches', () => {
    const watched = [{ slot: 'relay' as const, role: 'hybridge server', pid: 10 }, { slot: 'sender' as const, role: 'bridge -L', pid: 11 }];
    assert.deepEqual(cpuSlotsOf(watched), { 'hybridge server': 'relay', 'bridge -L': 'sender', target: 'target' });
    assert.deepEqual(unwatchedProcesses([{ name: 'relay', pid: 10 }, { name: 'bridge -L', pid: 11 }, { name: 'bridge -T', pid: 12 }], watched), ['bridge -T']);
  });
});

describe('bench CPU cost per GiB and per connection', () => {
  const upload = (path: string, slots: Record<string, string>, seconds: Record<string, number>, bytes = 2 * GiB) => fig('s1', path, 'upload', 300, { bytes, cpuSeconds: seconds, cpuSlots: slots });

  test('CPU per GiB per slot and summed over the ends and the relay; target, driver and other are left out', () => {
    const costs = cpuCosts([upload('bridge-ws', BRIDGE_SLOTS, { 'hybridge server': 3, 'hybridge server (system)': 1, 'bridge -L': 2, 'bridge -T': 1, target: 5, driver: 4, other: 9, wall: 7 })]);
    assert.equal(costs.length, 1);
    const c = costs[0]!;
    assert.equal(c.unit, 's/GiB');
    assert.equal(c.count, 2);
    assert.deepEqual(c.bySlot, { relay: 1.5, sender: 1, listener: 0.5 });
    assert.deepEqual(c.byProcess, { 'hybridge server': 1.5, 'bridge -L': 1, 'bridge -T': 0.5 });
    assert.equal(c.sum, 3);
  });

  test('CPU per connection in ms, once per set-up run (p50, p95 and p99 share it); several processes in one slot add up', () => {
    const slots = { 'relay node A': 'relay', 'relay node B': 'relay', 'bridge -L': 'sender', 'bridge -T': 'listener' };
    const detail = { completed: 1000, cpuSeconds: { 'relay node A': 1, 'relay node B': 0.5, 'bridge -L': 2, 'bridge -T': 2.5 }, cpuSlots: slots };
    const costs = cpuCosts(['p50', 'p95', 'p99'].map((m) => fig('s3', 'bridge-ws-cluster', m, 5, detail)));
    assert.equal(costs.length, 1);
    assert.deepEqual({ unit: costs[0]!.unit, bySlot: costs[0]!.bySlot, sum: costs[0]!.sum }, { unit: 'ms/connection', bySlot: { relay: 1.5, sender: 2, listener: 2.5 }, sum: 6 });
    const figures = costFigures(costs[0]!);
    assert.deepEqual(figures.map((f) => [f.metric, f.value]), [['cpu-set-up', 6], ['cpu-set-up-sender', 2], ['cpu-set-up-relay', 1.5], ['cpu-set-up-listener', 2.5]]);
  });

  test('no cost for a path without processes of its own (direct), a failed measurement or one without CPU detail', () => {
    assert.deepEqual(cpuCosts([upload('direct', { target: 'target' }, { target: 1 }), fig('s1', 'bridge-ws', 'upload', null, { bytes: GiB, cpuSeconds: { 'bridge -L': 1 }, cpuSlots: BRIDGE_SLOTS }), fig('s1', 'socat', 'upload', 100, { bytes: GiB })]), []);
  });

  test('held against the Node floor of its transport: node-chain for WS paths, node-chain-tls for TLS paths', () => {
    const floorSlots = { 'node hop 1': 'sender', 'node hop 2': 'relay', 'node hop 3': 'listener' };
    const costs = cpuCosts([
      upload('node-chain', floorSlots, { 'node hop 1': 1, 'node hop 2': 1, 'node hop 3': 2 }),
      upload('node-chain-tls', floorSlots, { 'node hop 1': 2, 'node hop 2': 4, 'node hop 3': 2 }),
      upload('bridge-ws', BRIDGE_SLOTS, { 'hybridge server': 2, 'bridge -L': 2, 'bridge -T': 2 }),
      upload('bridge-tls', BRIDGE_SLOTS, { 'hybridge server': 6, 'bridge -L': 3, 'bridge -T': 3 }),
    ]);
    const of = (path: string) => costs.find((c) => c.path === path)!;
    assert.equal(costToFloor(costs, of('bridge-ws')), 1.5);
    assert.equal(costToFloor(costs, of('bridge-tls')), 1.5);
    assert.equal(costToFloor(costs, of('node-chain')), undefined);
  });
});

describe('bench loopback targets (ratios to the floors of the same run)', () => {
  const targets = (figures: Figure[]) => evaluateTargets([scenario(figures[0]!.scenario, figures)]);
  const bulk = (path: string, up: number, down: number) => [fig('s1', path, 'upload', up), fig('s1', path, 'download', down)];

  test('L1: plain WS paths at least 0.9x the Node floor in both directions', () => {
    const t = targets([...bulk('node-chain', 100, 200), ...bulk('bridge-ws', 90, 180), ...bulk('tunnel-ws', 95, 170), ...bulk('bridge-ws-mux', 91, 190)]);
    const l1 = Object.fromEntries(t.filter((x) => x.id === 'L1').map((x) => [x.path, x]));
    assert.deepEqual(Object.keys(l1).sort(), ['bridge-ws', 'bridge-ws-mux', 'tunnel-ws']);
    assert.equal(l1['bridge-ws']!.status, 'PASS');
    assert.match(l1['bridge-ws']!.measured, /upload 0\.90× \(90\.0 vs 100 MB\/s\); download 0\.90×/);
    assert.equal(l1['tunnel-ws']!.status, 'MISS', 'download 0.85x');
    assert.equal(l1['bridge-ws-mux']!.status, 'PASS');
    assert.ok(!t.some((x) => ['T1', 'T2', 'T3', 'T4', 'T5'].includes(x.id)), 'issue 6\'s targets against ssh -L and socat are gone');
  });

  test('L2: TLS paths against the Node TLS floor (not the plain one), 0.85x; N/A without a floor', () => {
    const t = targets([...bulk('node-chain', 1000, 1000), ...bulk('node-chain-tls', 100, 100), ...bulk('bridge-tls', 85, 86), ...bulk('tunnel-tls', 84, 90)]);
    const l2 = Object.fromEntries(t.filter((x) => x.id === 'L2').map((x) => [x.path, x.status]));
    assert.deepEqual(l2, { 'bridge-tls': 'PASS', 'tunnel-tls': 'MISS' });
    const alone = targets(bulk('bridge-tls', 85, 86)).find((x) => x.id === 'L2')!;
    assert.equal(alone.status, 'N/A');
    assert.match(alone.measured, /no node-chain-tls baseline in this run/);
  });

  test('L3: multiplexed set-up p50 and p99 at most 1.5x (direct + 1 ms); cold paths are not held to it', () => {
    const setup = (path: string, p50: number, p99: number) => [fig('s3', path, 'p50', p50), fig('s3', path, 'p99', p99)];
    const t = targets([...setup('direct', 0.4, 1.2), ...setup('bridge-ws-mux', 2.1, 3.3), ...setup('tunnel-ws-mux', 2.0, 3.4), ...setup('bridge-ws', 5, 10)]);
    const l3 = Object.fromEntries(t.filter((x) => x.id === 'L3').map((x) => [x.path, x]));
    assert.deepEqual(Object.keys(l3).sort(), ['bridge-ws-mux', 'tunnel-ws-mux']);
    assert.equal(l3['bridge-ws-mux']!.status, 'PASS', l3['bridge-ws-mux']!.measured);
    assert.match(l3['bridge-ws-mux']!.measured, /^p50 2\.10 ms = 1\.50× 1\.40 ms; p99 3\.30 ms = 1\.50× 2\.20 ms$/);
    assert.equal(l3['tunnel-ws-mux']!.status, 'MISS', 'p99 3.4 > 3.3 ms');
  });
});

describe('bench before/after comparison', () => {
  const run = (p50: number, relaySeconds: number): BenchResult => {
    const detail = { completed: 1000, cpuSeconds: { 'hybridge server': relaySeconds, 'bridge -L': 1, 'bridge -T': 1 }, cpuSlots: BRIDGE_SLOTS };
    const s = scenario('s3', [fig('s3', 'bridge-ws', 'p50', p50, detail)]);
    return { date: '', mode: 'quick', machine: { cpu: '', cores: 2, memoryGiB: 1, node: '', os: '' }, seconds: 1, options: {}, notes: [], scenarios: [{ ...s, cpuCosts: cpuCosts(s.figures) }], targets: [] };
  };

  test('medians per figure and CPU slot, B / A, and a verdict only when the runs do not overlap', () => {
    const rows = compareRuns([run(4.9, 1.5), run(5.1, 1.6), run(4.0, 1.4)], [run(6.4, 2.0), run(6.0, 2.1), run(7.0, 1.9)]);
    const row = (metric: string) => rows.find((r) => r.metric === metric)!;
    assert.deepEqual(row('p50').a, [4.9, 5.1, 4.0]);
    assert.equal(row('p50').medianA, 4.9);
    assert.equal(row('p50').medianB, 6.4);
    assert.equal(row('p50').ratio.toFixed(3), (6.4 / 4.9).toFixed(3));
    assert.equal(row('p50').verdict, 'worse');
    assert.equal(row('cpu-set-up-relay').medianA, 1.5);
    assert.equal(row('cpu-set-up-relay').medianB, 2);
    assert.equal(row('cpu-set-up-relay').verdict, 'worse');
    assert.equal(row('cpu-set-up-sender').verdict, 'overlap', 'the same in every run');
    const mixed = compareRuns([run(5, 1), run(6, 1)], [run(5.5, 1), run(7, 1)]);
    assert.equal(mixed.find((r) => r.metric === 'p50')!.verdict, 'overlap');
  });
});
