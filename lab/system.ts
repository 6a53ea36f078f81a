/**
 * Running the system tools the lab is made of (ip, iptables, ss, the compiler): one promise per
 * command, a clear error naming the command and its stderr when it fails, and a synchronous variant
 * for the process 'exit' hook (where nothing asynchronous runs any more).
 */
import { execFile, execFileSync, type ExecFileOptions } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** `ip` by absolute path, so a process started with a trimmed PATH (a bench path's env) still finds it. */
export const IP = ((): string => {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/bin', '/bin']) {
    if (!dir) continue;
    try {
      accessSync(join(dir, 'ip'), constants.X_OK);
      return join(dir, 'ip');
    } catch {
      // not here
    }
  }
  return 'ip';
})();

export interface RunOptions {
  /** Written to the command's stdin. */
  input?: string;
  timeoutMs?: number;
}

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly code: number | string | null,
    readonly stderr: string,
  ) {
    super(`${command} failed (${code}): ${stderr.trim().split('\n').slice(-3).join(' | ') || 'no output'}`);
  }
}

function describe(file: string, args: readonly string[]): string {
  return [file, ...args].join(' ');
}

/** Runs `file args`; resolves with its stdout, rejects with a CommandError on a non-zero exit. */
export function run(file: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const execOptions: ExecFileOptions = { encoding: 'utf8', timeout: options.timeoutMs ?? 20_000, maxBuffer: 16 * 1024 * 1024 };
    const child = execFile(file, args, execOptions, (err, stdout, stderr) => {
      if (err) {
        const code = (err as NodeJS.ErrnoException & { code?: number | string }).code ?? null;
        reject(new CommandError(describe(file, args), code, String(stderr || err.message)));
      } else resolve(String(stdout));
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** The synchronous form of run() for exit hooks; never throws (returns undefined on failure). */
export function runSync(file: string, args: readonly string[], input?: string): string | undefined {
  try {
    return execFileSync(file, args, { encoding: 'utf8', timeout: 10_000, stdio: ['pipe', 'pipe', 'ignore'], ...(input !== undefined ? { input } : {}) });
  } catch {
    return undefined;
  }
}

/** `ip netns exec NETNS file args`: the command and arguments that run `file` inside a namespace. */
export function inNetns(netns: string, file: string, args: readonly string[]): [string, string[]] {
  return [IP, ['netns', 'exec', netns, file, ...args]];
}

export function runIn(netns: string, file: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
  const [f, a] = inNetns(netns, file, args);
  return run(f, a, options);
}
