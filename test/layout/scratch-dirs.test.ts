import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';

const helper = new URL('../helpers/scratch.js', import.meta.url).href;

test('a scratch directory is gone once the test process that made it exits, with what it holds', () => {
  const script = `import { writeFileSync } from 'node:fs'; import { join } from 'node:path'; import { scratchDir } from ${JSON.stringify(helper)};
const a = scratchDir('hybridge-scratch-test-'); const b = scratchDir('hybridge-scratch-test-');
writeFileSync(join(a, 'file'), 'x'); console.log(JSON.stringify([a, b]));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 });
  const [a, b] = JSON.parse(out) as string[];
  assert.ok(a && b && a !== b, 'two directories were made');
  assert.equal(existsSync(a!), false, `${a} removed`);
  assert.equal(existsSync(b!), false, `${b} removed`);
});
