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

  test('w1-w3: every row in path RTTs or MB/s, the lab row, and nothing left behind', { timeout: 150_000 }, async () => {
    const paths = 'direct,socat,bridge-ws,bridge-ws-prewarm,bridge-tls';
    const { stderr, pid } = await runBench(['--tiny', '--only', 'wan', '--paths', paths, '--out', out], tmp, 140_000);
    assert.match(stderr, /lab hyblab-\d+-[0-9a-f]{4}: 10 ms one way per link; path RTT by TCP ping-pong p50 [\d.]+ ms/);

    const result = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as BenchResult;
    assert.deepEqual(result.scenarios.map((s) => s.id), ['w1', 'w2', 'w3']);
    const expected: Record<string, { paths: string[]; metrics: string[]; unit: string }> = {
      w1: { paths: ['lab', 'direct', 'socat', 'bridge-ws', 'bridge-ws-prewarm', 'bridge-tls'], metrics: ['p50', 'p99'], unit: 'RTT' },
      w2: { paths: ['lab', 'direct', 'socat', 'bridge-ws', 'bridge-ws-prewarm'], metrics: ['usable', 'usable-p50'], unit: 'RTT' },
      w3: { paths: ['lab', 'direct', 'socat', 'bridge-ws'], metrics: ['upload', 'download', 'upload-lossy', 'download-lossy'], unit: 'MB/s' },
    };
    for (const s of result.scenarios) {
      const want = expected[s.id]!;
      assert.deepEqual(s.paths.map((p) => p.id), want.paths, `${s.id} paths (notes: ${s.notes.join(' ')})`);
      const rtt = s.figures.find((f) => f.path === 'lab' && f.metric === 'rtt')!;
      assert.ok(rtt.value! >= 40, `${s.id}: the path RTT cannot be below the configured 4 x 10 ms: ${rtt.value}`);
      for (const path of want.paths.slice(1)) {
        const figures = s.figures.filter((f) => f.path === path);
        assert.deepEqual(figures.map((f) => f.metric), want.metrics, `${s.id} ${path}`);
        for (const f of figures) {
          assert.ok(f.errors === 0 && typeof f.value === 'number' && f.value > 0, `${s.id} ${path} ${f.metric}: ${f.value} (${f.error})`);
          assert.equal(f.unit, want.unit);
        }
      }
    }
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
