/**
 * Builds nfq-impair (lab/impair/nfq-impair.c) with the machine's C compiler at first use, into a
 * cache directory, never into the repository. The binary's name carries a hash of the source and
 * the compiler, so a changed source is rebuilt; the build writes a temp file and renames it, so
 * labs starting in parallel (other test files) never run a half-written binary.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CommandError, run } from '../system.js';

/** The C source (this file runs as dist/lab/impair/build.js). */
const SOURCE = fileURLToPath(new URL('../../../lab/impair/nfq-impair.c', import.meta.url));

export const BUILD_PACKAGES = 'gcc libc6-dev libnetfilter-queue-dev';

/** Where built binaries go: $HYBRIDGE_LAB_CACHE, else $XDG_CACHE_HOME/hybridge-lab, else ~/.cache/hybridge-lab. */
export function cacheDir(): string {
  return process.env.HYBRIDGE_LAB_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'hybridge-lab');
}

function compiler(): string {
  return process.env.CC ?? 'cc';
}

let building: Promise<string> | undefined;

async function build(): Promise<string> {
  const source = readFileSync(SOURCE);
  let version: string;
  try {
    version = await run(compiler(), ['--version']);
  } catch {
    throw new Error(`the lab's link impairments need a C compiler (${compiler()} not found): apt-get install ${BUILD_PACKAGES}`);
  }
  const hash = createHash('sha256').update(source).update(version).digest('hex').slice(0, 16);
  const dir = cacheDir();
  const binary = join(dir, `nfq-impair-${hash}`);
  if (existsSync(binary)) return binary;
  mkdirSync(dir, { recursive: true });
  const temp = `${binary}.tmp-${process.pid}`;
  try {
    await run(compiler(), ['-O2', '-Wall', '-Wextra', '-o', temp, SOURCE, '-lnetfilter_queue', '-lnfnetlink'], { timeoutMs: 60_000 });
    renameSync(temp, binary);
  } catch (err) {
    rmSync(temp, { force: true });
    const detail = err instanceof CommandError ? err.stderr.trim().split('\n').slice(0, 3).join(' | ') : String(err);
    throw new Error(`building the lab's nfq-impair failed (apt-get install ${BUILD_PACKAGES}): ${detail}`);
  }
  return binary;
}

/** The path of the built nfq-impair binary (built once per process, cached across runs). */
export function impairBinary(): Promise<string> {
  building ??= build().catch((err: unknown) => {
    building = undefined;
    throw err;
  });
  return building;
}
