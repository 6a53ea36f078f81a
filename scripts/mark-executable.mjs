// tsc does not keep the executable bit; the bin entry must be runnable directly.
import { chmodSync, existsSync } from 'node:fs';

const bin = new URL('../dist/src/cli/main.js', import.meta.url);
if (existsSync(bin)) chmodSync(bin, 0o755);
