/**
 * Temporary directories a test file needs for its whole run (an empty HOME, a relay's data, a CA
 * file): made under the system's temporary directory and removed when the test process exits, so a
 * run leaves nothing behind however its suites end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];
process.once('exit', () => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
