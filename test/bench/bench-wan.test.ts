/**
 * The WAN scenarios end to end in their smallest configuration (10 ms one way per link, a few
 * connections, small transfers) inside a network-fault lab: the report's rows and units, the
 * measured path RTT, and that no namespace, process or temp dir is left behind.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { BenchResult } from '../../bench/report/model.js';
import { runBench } from '../helpers/bench-run.js';
import { processesMentioning } from '../helpers/processes.js';
import { namespacesOf, skipLab } from '../lab/helpers.js';

const BENCH_DIST = fileURLToPath(new URL('../../bench/', import.meta.url));

describe('bench: WAN scenarios in a network-fault lab (tiny run)', { skip: skipLab }, () => {
  const root = mkdtempSync(join(tmpdir(), 'hybridge-bench-wan-'));
  const out = join(root, 'results');
  const tmp = join(root, 'tmp');
  mkdirSync(tmp);
  after(() => rmSync(root, { recursive: true, force: true }));

  test('w1-w3: every row in path RTTs or MB/s, the lab row, the multiplexed paths, and nothing left behind', { timeout: 170_000 }, async () => {
    const paths = 'direct,socat,bridge-ws,bridge-ws-prewarm,bridge-tls,bridge-ws-mux,tunnel-ws-mux';
    const { stderr, pid } = await runBench(['--tiny', '--only', 'wan', '--paths', paths, '--out', out], tmp, 160_000);
    assert.match(stderr, /lab hyblab-\d+-[0-9a-f]{4}: 10 ms one way per link; path RTT by TCP ping-pong p50 [\d.]+ ms/);
    // The multiplexed paths are measured once every session is open: w1 and w2 with --mux 2, w3 with one session.
    assert.equal(stderr.match(/bridge -L: 2 multiplexed sessions open/g)?.length, 2, 'w1 and w2 waited for both sessions of bridge -L');
    assert.equal(stderr.match(/relay-sender: 2 multiplexed sessions open/g)?.length, 2, 'w1 and w2 waited for both sessions of relay-sender');
    assert.match(stderr, /bridge -L: 1 multiplexed session open/);
    assert.match(stderr, /relay-sender: 1 multiplexed session open/);

    const result = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as BenchResult;
    assert.deepEqual(result.scenarios.map((s) => s.id), ['w1', 'w2', 'w3']);
    const measured = ['upload', 'download', 'upload-many', 'download-many', 'upload-lossy', 'download-lossy', 'upload-many-lossy', 'download-many-lossy'];
    const expected: Record<string, { paths: string[]; metrics: string[]; unit: string }> = {
      w1: { paths: ['lab', 'direct', 'socat', 'bridge-ws', 'bridge-ws-prewarm', 'bridge-ws-mux', 'bridge-tls', 'tunnel-ws-mux'], metrics: ['p50', 'p99'], unit: 'RTT' },
      w2: { paths: ['lab', 'direct', 'socat', 'bridge-ws', 'bridge-ws-prewarm', 'bridge-ws-mux', 'tunnel-ws-mux'], metrics: ['usable', 'usable-p50', 'usable-after-first'], unit: 'RTT' },
      w3: { paths: ['lab', 'direct', 'socat', 'bridge-ws', 'bridge-ws-mux', 'tunnel-ws-mux'], metrics: measured, unit: 'MB/s' },
    };
    for (const s of result.scenarios) {
      const want = expected[s.id]!;
      assert.deepEqual(s.paths.map((p) => p.id), want.paths, `${s.id} paths (notes: ${s.notes.join(' ')})`);
      const rtt = s.figures.find((f) => f.path === 'lab' && f.metric === 'rtt')!;
      assert.ok(rtt.value! >= 40, `${s.id}: the path RTT cannot be below the configured 4 x 10 ms: ${rtt.value}`);
      for (const path of want.paths.slice(1)) {
        const figures = s.figures.filter((f) => f.path === path && f.unit === want.unit);
        assert.deepEqual(figures.map((f) => f.metric), want.metrics, `${s.id} ${path}`);
        for (const f of figures) {
          assert.ok(f.errors === 0 && typeof f.value === 'number' && f.value > 0, `${s.id} ${path} ${f.metric}: ${f.value} (${f.error})`);
          const load = f.detail?.load1 as number[] | undefined;
          assert.ok(load?.length === 2 && load.every((l) => l >= 0), `${s.id} ${path} ${f.metric}: the load average at the start and end: ${String(load)}`);
        }
      }
    }
    // The several-streams rows moved every stream's bytes (checked by the driver), each stream's rate kept.
    const many = result.scenarios[2]!.figures.find((f) => f.path === 'bridge-ws-mux' && f.metric === 'download-many-lossy')!;
    assert.equal(many.detail?.bytes, 3 * 32 * 1024);
    assert.equal((many.detail?.streamMbPerSecond as number[]).length, 3);
    // Multiplexed rows are held against the same path without --mux (only where that path ran).
    const ratios = result.scenarios[2]!.figures.filter((f) => f.unit === 'x');
    assert.deepEqual(ratios.map((f) => f.path).sort(), Array<string>(measured.length).fill('bridge-ws-mux'));
    assert.deepEqual(ratios.map((f) => f.metric).sort(), measured.map((m) => `${m}-vs-plain`).sort());
    for (const f of ratios) assert.ok(Math.abs(f.value! - (f.detail!.mux as number) / (f.detail!.plain as number)) < 1e-9);
    const burst = result.scenarios[1]!.figures.find((f) => f.path === 'bridge-ws-mux' && f.metric === 'usable-after-first')!;
    const all = result.scenarios[1]!.figures.find((f) => f.path === 'bridge-ws-mux' && f.metric === 'usable')!;
    assert.ok(burst.value! <= all.value!, `from the first usable connection is no longer than from the first connect: ${burst.value} vs ${all.value}`);
    for (const [id, path] of [['W2', 'bridge-ws-mux'], ['W2', 'tunnel-ws-mux'], ['W3', 'bridge-ws-mux'], ['W4', 'bridge-ws-mux']] as const) {
      assert.ok(result.targets.some((t) => t.id === id && t.path === path && (t.status === 'PASS' || t.status === 'MISS')), `${id} judged for ${path}`);
    }
    // W4 needs the path without --mux: tunnel-ws did not run, so it cannot be judged.
    assert.equal(result.targets.find((t) => t.id === 'W4' && t.path === 'tunnel-ws-mux')?.status, 'N/A');
    assert.ok(!result.targets.some((t) => t.id === 'W1' && t.path.endsWith('-mux')), 'W1 is for the paths that do not multiplex');

    const direct = result.scenarios[0]!.figures.find((f) => f.path === 'direct' && f.metric === 'p50')!;
    const measuredRtt = result.scenarios[0]!.figures.find((f) => f.path === 'lab' && f.metric === 'rtt')!.value!;
    // The delays are floors: a direct connect plus echo cannot take less than two configured round
    // trips (2 x 40 ms) of wall time, however much scheduling noise inflates the measured RTT it is divided by.
    assert.ok(direct.value! * measuredRtt >= 2 * 40 * 0.95, `a direct connect plus echo takes two round trips: ${direct.value} RTT of ${measuredRtt} ms`);
    assert.ok(result.targets.some((t) => t.id === 'W1' && t.path === 'bridge-ws' && (t.status === 'PASS' || t.status === 'MISS')));

    const md = readFileSync(join(out, 'latest.md'), 'utf8');
    assert.match(md, /## W1\. WAN connection set-up/);
    assert.match(md, /\| lab path client -> relay -> service \(10 ms one way per link\) \| path RTT \(TCP ping-pong, p50\) \| [\d.]+( †)? \| ms \|/);
    assert.match(md, /\| bridge -L\/-T \(TLS\) \| set-up p50 \| [\d.]+( †)? \| RTT \| [\d.]+× \| [\d.]+× \|/);
    assert.match(md, /\| bridge -L\/-T \(WS\) \| download, lossy links \| [\d.]+( †)? \| MB\/s \|/);

    assert.deepEqual(namespacesOf(`hyblab-${pid}-`), [], 'every lab namespace was removed');
    assert.deepEqual(processesMentioning(`hyblab-${pid}-`), [], 'the labs\' reapers exited');
    assert.deepEqual(processesMentioning(tmp), [], 'no relay or end is still running');
    assert.deepEqual(processesMentioning(BENCH_DIST), [], 'no driver, target or probe is still running');
    assert.deepEqual(readdirSync(tmp), [], 'the temp dir was removed');
  });
});
