/**
 * Runs the benchmark harness end to end in its smallest configuration (direct, socat and one
 * hybridge path; a few MiB; 20 connections) and checks that its three outputs are well-formed and
 * that it left no process or temp dir behind.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ComparedFigure } from '../../bench/report/compare.js';
import type { BenchResult } from '../../bench/report/model.js';
import { runBench as runBenchProcess } from '../helpers/bench-run.js';
import { processesMentioning } from '../helpers/processes.js';

describe('bench harness (tiny run)', () => {
  const root = mkdtempSync(join(tmpdir(), 'hybridge-bench-test-'));
  const out = join(root, 'results');
  const tmp = join(root, 'tmp');
  mkdirSync(tmp);
  after(() => rmSync(root, { recursive: true, force: true }));

  /** Runs a tiny bench (TLS-free unless `withTls`) with `args`; asserts exit code 0 and returns its progress output. */
  async function runBench(args: string[], withTls = false): Promise<string> {
    return (await runBenchProcess(['--tiny', ...(withTls ? [] : ['--skip-tls']), ...args], tmp, 80_000)).stderr;
  }

  test('direct, socat, the Node floor and bridge -L/-T: figures, ratios, targets, Markdown and SVG', { timeout: 90_000 }, async () => {
    const stderr = await runBench(['--only', 's1,s3', '--paths', 'direct,socat,node-chain,bridge-ws', '--out', out]);
    assert.match(stderr, /== s1: Single-stream bulk throughput/);
    assert.match(stderr, /bridge-ws: download: [\d.]+ MB\/s/, 'a progress line per finished figure');

    const result = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as BenchResult;
    assert.equal(result.mode, 'tiny');
    assert.ok(result.machine.cpu && result.machine.cores > 0 && result.machine.node.startsWith('v'));
    assert.deepEqual(result.scenarios.map((s) => s.id), ['s1', 's3']);
    const socatSkipped = result.scenarios[0]!.notes.some((n) => n.includes('socat') && n.includes('skipped'));
    const expectedPaths = socatSkipped ? ['direct', 'node-chain', 'bridge-ws'] : ['direct', 'socat', 'node-chain', 'bridge-ws'];
    for (const s of result.scenarios) {
      assert.deepEqual(s.paths.map((p) => p.id), expectedPaths, `${s.id} ran the chosen paths`);
      for (const f of s.figures) {
        assert.equal(f.errors, 0, `${s.id} ${f.path} ${f.metric}: ${f.error}`);
        assert.ok(typeof f.value === 'number' && f.value > 0, `${s.id} ${f.path} ${f.metric} = ${f.value}`);
      }
    }
    assert.equal(result.scenarios[0]!.figures.length, expectedPaths.length * 2, 'upload and download per path');
    const l1 = result.targets.find((t) => t.id === 'L1' && t.path === 'bridge-ws');
    assert.ok(l1 && (l1.status === 'PASS' || l1.status === 'MISS'));
    assert.match(l1.measured, /^upload [\d.]+× \([\d.,]+ vs [\d.,]+ MB\/s, the floor measured beside it\); download [\d.]+× /, 'held against the Node floor measured beside it');
    const l1Figure = result.scenarios[0]!.figures.find((f) => f.path === 'bridge-ws' && f.metric === 'upload')!;
    assert.equal((l1Figure.detail?.floor as { path?: string } | undefined)?.path, 'node-chain', 'the floor beside bridge-ws is the plain chain');
    assert.ok(result.loadAverage && result.loadAverage.start.length === 3);
    // CPU per GiB (s1) and per connection (s3) of each process the path started, by slot.
    for (const [s, measurement] of [[result.scenarios[0]!, 'upload'], [result.scenarios[1]!, 'set-up']] as const) {
      const bridge = s.cpuCosts?.find((c) => c.path === 'bridge-ws' && c.measurement === measurement);
      assert.ok(bridge, `${s.id}: a CPU cost for bridge-ws ${measurement}`);
      assert.deepEqual(Object.keys(bridge.byProcess).sort(), ['bridge -L', 'bridge -T', 'hybridge server']);
      assert.deepEqual(Object.keys(bridge.bySlot).sort(), ['listener', 'relay', 'sender']);
      assert.ok(s.cpuCosts!.some((c) => c.path === 'node-chain' && c.measurement === measurement), `${s.id}: the floor's CPU cost`);
      assert.ok(!s.cpuCosts!.some((c) => c.path === 'direct'), 'direct starts no process of its own');
    }

    const md = readFileSync(join(out, 'latest.md'), 'utf8');
    assert.match(md, /^# hybridge benchmark/);
    assert.match(md, /Machine: .+, \d+ cores/);
    assert.match(md, /\| target \| path \| measured \| status \|/);
    assert.match(md, /\| bridge -L\/-T \(WS\) \| download \| [\d.,]+( †)? \| MB\/s \| [\d.]+× \|/);
    assert.match(md, /\| 3 bare Node forwarders in series \(floor\) \| upload \| [\d.,]+( †)? \| MB\/s \|/);
    assert.match(md, /\| path \| figure \| value \| unit \| × direct \|( × socat \|)? × Node floor \|/);
    assert.match(md, /\| path \| measured \| unit \| sender end \| relay \| listener end \| ends \+ relay \| × Node floor \| per process \|/);
    assert.match(md, /\| bridge -L\/-T \(WS\) \| set-up \| ms\/connection \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+× \| hybridge server [\d.]+, bridge -L [\d.]+, bridge -T [\d.]+ \|/);
    const svg = readFileSync(join(out, 'latest.svg'), 'utf8');
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /<rect x="\d+" y="[\d.]+" width="[\d.]+" height="\d+" fill="#4285f4"\/>/);
    assert.match(svg, /<\/svg>\n$/);

    assert.deepEqual(readdirSync(tmp), [], 'the temp dir was removed');
    assert.deepEqual(processesMentioning(tmp), [], 'no process the bench started is still running');
    assert.deepEqual(processesMentioning('node-forwarder.js'), [], 'the floor chain was stopped');
    assert.ok(!existsSync(join(out, 'profiles')));
  });
  test('the TLS floor: TLS paths are held against three Node forwarders with TLS between them', { timeout: 90_000 }, async () => {
    const tlsOut = join(root, 'tls-results');
    await runBench(['--only', 's1', '--paths', 'node-chain,node-chain-tls,bridge-tls', '--out', tlsOut], true);
    const result = JSON.parse(readFileSync(join(tlsOut, 'latest.json'), 'utf8')) as BenchResult;
    const s1 = result.scenarios[0]!;
    assert.deepEqual(s1.paths.map((p) => p.id), ['node-chain', 'node-chain-tls', 'bridge-tls']);
    for (const f of s1.figures) assert.ok(f.errors === 0 && typeof f.value === 'number' && f.value > 0, `${f.path} ${f.metric}: ${f.value} (${f.error})`);
    const figure = (path: string, metric: string) => s1.figures.find((f) => f.path === path && f.metric === metric)!.value!;
    const md = readFileSync(join(tlsOut, 'latest.md'), 'utf8');
    // The TLS path's floor ratio is against the TLS chain measured beside it, not the plain one.
    const beside = s1.figures.find((f) => f.path === 'bridge-tls' && f.metric === 'upload')!.detail?.floor as { path: string; value: number };
    assert.equal(beside.path, 'node-chain-tls');
    const expected = (figure('bridge-tls', 'upload') / beside.value).toFixed(2);
    const row = md.split('\n').find((line) => line.startsWith('| bridge -L/-T (TLS) | upload |'));
    assert.ok(row?.trimEnd().endsWith(`| ${expected}× |`), `bridge-tls upload row ends with its TLS floor ratio ${expected}×: ${row}`);
    assert.match(md, /\| 3 bare Node forwarders in series, TLS between them \(floor\) \| download \| [\d.,]+( †)? \| MB\/s \|/);
    assert.deepEqual(readdirSync(tmp), [], 'the temp dir was removed');
    assert.deepEqual(processesMentioning('node-forwarder.js'), [], 'the TLS floor chain was stopped');
  });
  test('the cross-node cluster path (redis-server and two relay nodes) sets connections up next to the single-node path', { timeout: 90_000 }, async () => {
    const clusterOut = join(root, 'cluster-results');
    await runBench(['--only', 's3', '--paths', 'bridge-ws,bridge-ws-cluster', '--out', clusterOut]);
    const result = JSON.parse(readFileSync(join(clusterOut, 'latest.json'), 'utf8')) as BenchResult;
    const s3 = result.scenarios[0]!;
    assert.deepEqual(s3.paths.map((p) => p.id), ['bridge-ws', 'bridge-ws-cluster'], `redis-server is needed here (.ci/run installs it): ${s3.notes.join(' ')}`);
    for (const path of ['bridge-ws', 'bridge-ws-cluster']) {
      const figures = s3.figures.filter((f) => f.path === path);
      assert.equal(figures.length, 3, `${path}: p50, p95, p99`);
      for (const f of figures) assert.ok(f.errors === 0 && typeof f.value === 'number' && f.value > 0, `${path} ${f.metric}: ${f.value} (${f.error})`);
    }
    assert.deepEqual(readdirSync(tmp), [], 'the temp dir was removed');
    assert.deepEqual(processesMentioning(tmp), [], 'no process the bench started is still running (redis-server included)');
  });

  test('bench:compare alternates runs of two builds (here this build twice) and prints medians and B / A per figure and CPU slot', { timeout: 90_000 }, async () => {
    const compare = fileURLToPath(new URL('../../bench/compare.js', import.meta.url));
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    const compareOut = join(tmp, '..', 'compare');
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [compare, ...args], { env: { ...process.env, TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        const timer = setTimeout(() => child.kill('SIGKILL'), 80_000);
        child.on('exit', (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
      });
    const bad = await run(['--runs', '2']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^bench:compare: --other DIR is required\n/);
    const r = await run(['--other', root, '--runs', '1', '--out', compareOut, '--', '--tiny', '--skip-tls', '--only', 's3', '--paths', 'node-chain']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /compare: run 1\/1, A \(.+\)\n[\s\S]*compare: run 1\/1, B \(this checkout\)/);
    assert.match(r.stdout, /\| s3 \| node-chain \| set-up p50 \| ms \| [\d.]+ \| [\d.]+ \| [\d.]+× \| (runs overlap|\*\*better\*\*|\*\*worse\*\*) \|/, 'one run each: any verdict');
    const saved = JSON.parse(readFileSync(join(compareOut, 'compare.json'), 'utf8')) as { figures: ComparedFigure[] };
    const metrics = saved.figures.map((f) => f.metric);
    for (const m of ['p50', 'p95', 'p99', 'cpu-set-up', 'cpu-set-up-sender', 'cpu-set-up-relay', 'cpu-set-up-listener']) assert.ok(metrics.includes(m), `${m} compared: ${metrics.join(', ')}`);
    const a = JSON.parse(readFileSync(join(compareOut, 'a-1', 'latest.json'), 'utf8')) as BenchResult;
    assert.equal(a.options.hybridge, root.replace(/\/$/, ''), 'run A used the other build through --hybridge');
    assert.deepEqual(readdirSync(tmp), [], 'the temp dirs were removed');
    assert.deepEqual(processesMentioning('node-forwarder.js'), []);
  });
});
