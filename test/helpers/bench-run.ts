/** Runs `npm run bench`'s entry point (dist/bench/main.js) as a child process, for the bench's own tests. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../bench/main.js', import.meta.url));

/**
 * Runs the bench with `args` and TMPDIR=`tmp` (so a test can check that its temp dir is removed),
 * killed after `timeoutMs`; asserts exit code 0 and returns its progress output and pid.
 */
export async function runBench(args: string[], tmp: string, timeoutMs: number): Promise<{ stderr: string; pid: number }> {
  const child = spawn(process.execPath, [MAIN, ...args], { env: { ...process.env, TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearTimeout(timer);
  assert.equal(code, 0, `bench exited with ${code}:\n${stderr}`);
  return { stderr, pid: child.pid! };
}
