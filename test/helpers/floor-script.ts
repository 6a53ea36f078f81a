import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

/** A bench floor script refuses connection counts that are not whole numbers from 1 to 20000, in one line. */
export function assertRefusesBadConnectionCount(script: string, name: string): void {
  for (const bad of ['abc', '0', '20001', '1.5']) {
    const r = spawnSync(process.execPath, [script, bad], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.status, 1, `${name} ${bad}`);
    assert.equal(r.stderr.trim(), `${name}: the connection count must be a whole number from 1 to 20000`);
  }
}
