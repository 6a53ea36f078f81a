// Runs the parser fuzz targets (dist/test/fuzz/*.test.js) for longer than npm test does.
//
//   npm run fuzz                       30 s per property
//   npm run fuzz -- --seconds 300      5 minutes per property
//   npm run fuzz -- --seconds 60 peer  only files whose name contains "peer"
//
// HYBRIDGE_FUZZ_MS (milliseconds per property) works too; a failure prints the seed and path that
// replay it: HYBRIDGE_FUZZ_SEED=<seed> HYBRIDGE_FUZZ_PATH=<path> npm run fuzz -- <file filter>.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
let ms = Number(process.env.HYBRIDGE_FUZZ_MS ?? 30_000);
const filters = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--seconds') ms = Number(args[++i]) * 1000;
  else filters.push(args[i]);
}
if (!Number.isFinite(ms) || ms <= 0) {
  console.error('fuzz: --seconds needs a positive number');
  process.exit(2);
}
const dir = new URL('../dist/test/fuzz', import.meta.url).pathname;
const files = readdirSync(dir)
  .filter((name) => name.endsWith('.test.js') && (filters.length === 0 || filters.some((f) => name.includes(f))))
  .map((name) => join(dir, name));
if (files.length === 0) {
  console.error('fuzz: no fuzz target files matched');
  process.exit(2);
}
console.log(`fuzzing ${files.length} file(s), ${ms / 1000} s per property`);
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
  env: { ...process.env, HYBRIDGE_FUZZ_MS: String(ms) },
});
process.exit(result.status ?? 1);
