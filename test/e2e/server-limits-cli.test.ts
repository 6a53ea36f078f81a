/**
 * `hybridge server`'s limit flags (src/cli/server-limits.ts): a bad value is one line and exit 2;
 * given values take effect in the running relay.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { stopAll } from '../helpers/processes.js';
import { oneLine, runCli, startServer } from '../relay/management-cli-kit.js';

describe('hybridge server limit flags', () => {
  const root = mkdtempSync(join(tmpdir(), 'hybridge-server-limits-'));
  let dirs = 0;
  const freshDataDir = () => join(root, `d${++dirs}`);
  after(async () => {
    await stopAll();
    rmSync(root, { recursive: true, force: true });
  });

  test('a bad limit exits 2 with one line, before anything is created', async () => {
    const cases: [string[], RegExp][] = [
      [['--max-header-size', '1k'], /^hybridge: --max-header-size must be at least 4 KiB$/],
      [['--max-request-target', 'lots'], /^hybridge: --max-request-target: "lots" is not a size \(examples: 65536, 64k, 4MiB\)$/],
      [['--header-timeout', 'soon'], /^hybridge: --header-timeout: "soon" is not a duration/],
      [['--max-connections', '-3'], /^hybridge: --max-connections must be a whole number, not "-3"$/],
      [['--max-pending-senders', '0'], /^hybridge: --max-pending-senders must be at least 1$/],
    ];
    await Promise.all(
      cases.map(async ([flags, expected]) => {
        const data = freshDataDir();
        const result = await runCli(['server', '--host', '127.0.0.1', '--port', '0', '--data', data, ...flags]);
        assert.equal(result.code, 2, `${flags.join(' ')}: ${result.stderr}`);
        assert.match(oneLine(result.stderr) ?? result.stderr, expected);
        assert.equal(result.stdout, '');
        assert.equal(existsSync(data), false, 'no data directory was made');
      }),
    );
  });

  test('given limits are the ones the relay enforces', async () => {
    const server = await startServer(['--data', freshDataDir(), '--max-request-target', '2k', '--max-header-size', '8k']);
    const base = `http://127.0.0.1:${server.port}`;
    const long = await fetch(`${base}/${'a/'.repeat(1100)}`, { signal: AbortSignal.timeout(5000) });
    assert.equal(long.status, 414);
    await long.arrayBuffer();
    const big = await fetch(`${base}/$hybridge/health`, { headers: { 'X-Big': 'b'.repeat(9000) }, signal: AbortSignal.timeout(5000) });
    assert.equal(big.status, 431);
    await big.arrayBuffer();
    const health = await fetch(`${base}/$hybridge/health`, { signal: AbortSignal.timeout(5000) });
    assert.deepEqual(await health.json(), { status: 'ok' });
    await server.proc.stop('SIGTERM');
  });
});
