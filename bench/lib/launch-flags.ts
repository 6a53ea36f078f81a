/** The node flags a built CLI asks for in its `#!/usr/bin/env -S node ...` line, so the bench runs it as a user's shell would. */
import { closeSync, openSync, readSync } from 'node:fs';

export function launchFlags(cli: string): string[] {
  const head = Buffer.alloc(256);
  const fd = openSync(cli, 'r');
  try {
    const n = readSync(fd, head, 0, head.length, 0);
    const first = head.subarray(0, n).toString('utf8').split('\n')[0] ?? '';
    const m = /^#!\s*\S*env\s+-S\s+node\s+(.*)$/.exec(first.trim());
    return m ? m[1]!.split(/\s+/).filter((f) => f.startsWith('--')) : [];
  } finally {
    closeSync(fd);
  }
}
