/**
 * `npm run bench:compare -- --other DIR [--runs N] [--out DIR] -- <bench options>`: runs the bench
 * alternately with another checkout's built hybridge (A, through --hybridge) and this one's (B), N
 * times each (ABBA order, so a drift in the machine's load hits both alike), then prints and writes
 * the medians of every figure and their ratio B / A (compare.md, compare.json in the out dir).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hybridgeCli } from './lib/context.js';
import { compareRuns, renderComparison } from './report/compare.js';
import type { BenchResult } from './report/model.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

const USAGE = `usage: npm run bench:compare -- --other DIR [--runs N] [--out DIR] -- <bench options>
  --other DIR   the other checkout (A), built (DIR/dist/src/cli/main.js); B is this checkout
  --runs N      bench runs per build, alternating A B B A ... (default 3, at most 20)
  --out DIR     where each run's results and compare.{md,json} go (default bench/results/compare)
  everything after -- goes to each bench run (e.g. --quick --only s3 --paths direct,bridge-ws --skip-tls)
`;

interface CompareOptions {
  other: string;
  runs: number;
  out: string;
  bench: string[];
}

export function parseCompareOptions(argv: string[]): CompareOptions | 'help' {
  const split = argv.indexOf('--');
  const own = split < 0 ? argv : argv.slice(0, split);
  const bench = split < 0 ? [] : argv.slice(split + 1);
  let other: string | undefined;
  let runs = 3;
  let out = join(ROOT, 'bench', 'results', 'compare');
  for (let i = 0; i < own.length; i++) {
    const flag = own[i]!;
    const value = () => {
      const v = own[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === '-h' || flag === '--help') return 'help';
    else if (flag === '--other') other = resolve(value());
    else if (flag === '--out') out = resolve(value());
    else if (flag === '--runs') {
      runs = Number(value());
      if (!Number.isInteger(runs) || runs < 1 || runs > 20) throw new Error('--runs must be an integer from 1 to 20');
    } else throw new Error(`unknown option ${flag}`);
  }
  if (!other) throw new Error('--other DIR is required');
  if (!existsSync(hybridgeCli(other))) throw new Error(`--other: no built hybridge at ${hybridgeCli(other)} (run npm run build there)`);
  for (const reserved of ['--out', '--hybridge']) if (bench.includes(reserved)) throw new Error(`${reserved} is set by the comparison; leave it out of the bench options`);
  return { other, runs, out, bench };
}

function runBench(args: string[]): Promise<number> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('exit', (code) => done(code ?? 1));
  });
}

async function main(o: CompareOptions): Promise<number> {
  mkdirSync(o.out, { recursive: true });
  const results: Record<'a' | 'b', BenchResult[]> = { a: [], b: [] };
  const load: string[] = [];
  for (let i = 0; i < o.runs; i++) {
    const order: ('a' | 'b')[] = i % 2 === 0 ? ['a', 'b'] : ['b', 'a'];
    for (const side of order) {
      const dir = join(o.out, `${side}-${i + 1}`);
      load.push(`${side}-${i + 1}: load average ${loadavg().map((v) => v.toFixed(2)).join(', ')}`);
      process.stderr.write(`compare: run ${i + 1}/${o.runs}, ${side === 'a' ? `A (${o.other})` : 'B (this checkout)'}\n`);
      const code = await runBench([...o.bench, ...(side === 'a' ? ['--hybridge', o.other] : []), '--out', dir]);
      if (code !== 0) {
        process.stderr.write(`compare: the bench exited with ${code}; stopping\n`);
        return 1;
      }
      results[side].push(JSON.parse(readFileSync(join(dir, 'latest.json'), 'utf8')) as BenchResult);
    }
  }
  const rows = compareRuns(results.a, results.b);
  const text = `${renderComparison(rows, { a: o.other, b: ROOT })}\nBench options: \`${o.bench.join(' ')}\`; ${o.runs} runs each.\n\n${load.map((l) => `- ${l}`).join('\n')}\n`;
  writeFileSync(join(o.out, 'compare.md'), text);
  writeFileSync(join(o.out, 'compare.json'), `${JSON.stringify({ a: o.other, b: ROOT, bench: o.bench, runs: o.runs, load, figures: rows }, null, 2)}\n`);
  process.stdout.write(text);
  return 0;
}

let options: CompareOptions | 'help';
try {
  options = parseCompareOptions(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`bench:compare: ${(err as Error).message}\n${USAGE}`);
  process.exit(2);
}
if (options === 'help') {
  process.stdout.write(USAGE);
  process.exit(0);
}
main(options).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench:compare failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
