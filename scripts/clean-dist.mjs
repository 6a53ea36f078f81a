// Removes dist/ before a build, so files whose source was renamed or deleted (old tests included)
// do not linger and get run.
import { rmSync } from 'node:fs';

rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
