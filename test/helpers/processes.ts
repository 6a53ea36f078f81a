import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Path of the built CLI. */
export const HYBRIDGE_BIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface RunningProcess {
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves when the combined output matches `pattern` (rejects after `timeoutMs` or on exit). */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | string>;
}

const running = new Set<RunningProcess>();
/** How long a process's output may trail its exit. */
const OUTPUT_AFTER_EXIT_MS = 2000;

/** Starts `node dist/src/cli/main.js ...args`; every process is tracked and killed by stopAll(). */
export function spawnHybridge(args: string[], options: SpawnOptions = {}): RunningProcess {
  return spawnProcess(process.execPath, [HYBRIDGE_BIN, ...args], options);
}

export function spawnProcess(command: string, args: string[], options: SpawnOptions = {}): RunningProcess {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], ...options });
  let output = '';
  const waiters: (() => void)[] = [];
  const onData = (chunk: Buffer) => {
    output += chunk.toString('utf8');
    for (const w of waiters.splice(0)) w();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      // 'exit' can come before the last of the output (seen: a usage error's one line missing when
      // fifty bridges ran at once); 'close' comes after it, unless a child of the process still
      // holds the pipes, hence the bound.
      const finish = () => {
        clearTimeout(bound);
        for (const w of waiters.splice(0)) w();
        resolve(code ?? signal ?? -1);
      };
      const bound = setTimeout(finish, OUTPUT_AFTER_EXIT_MS);
      child.once('close', finish);
    });
  });
  let exitedFlag = false;
  void exited.then(() => (exitedFlag = true));
  const proc: RunningProcess = {
    child,
    output: () => output,
    waitForOutput: (pattern, timeoutMs = 15_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`output did not match ${pattern} within ${timeoutMs} ms; output so far:\n${output}`)), timeoutMs);
        const check = () => {
          const m = output.match(pattern);
          if (m) {
            clearTimeout(timer);
            resolve(m);
          } else if (exitedFlag) {
            clearTimeout(timer);
            reject(new Error(`process exited before output matched ${pattern}; output:\n${output}`));
          } else waiters.push(check);
        };
        check();
      }),
    exited,
    stop: async (signal = 'SIGTERM', graceMs = 5000) => {
      if (!exitedFlag) {
        child.kill(signal);
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      running.delete(proc);
      return exited;
    },
  };
  running.add(proc);
  child.once('exit', () => running.delete(proc));
  return proc;
}

/** Kills every process started through this module (call from after()/afterEach()). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop('SIGKILL', 1000)));
}

/**
 * Runs `hybridge ...args` with `input` on its stdin (then closed): its exit code (it is killed after
 * `timeoutMs`), stdout kept out of `output()`, and stderr.
 */
export async function runHybridgeWithInput(args: string[], env: NodeJS.ProcessEnv, input: Buffer, timeoutMs: number): Promise<{ code: number | string; stdout: Buffer; stderr: string }> {
  const proc = spawnHybridge(args, { env });
  const stdout: Buffer[] = [];
  let stderr = '';
  proc.child.stdout!.removeAllListeners('data');
  proc.child.stdout!.on('data', (c: Buffer) => stdout.push(c));
  proc.child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  proc.child.stdin!.end(input);
  const code = await waitExit(proc, timeoutMs);
  return { code, stdout: Buffer.concat(stdout), stderr };
}

export async function waitExit(proc: RunningProcess, timeoutMs = 15_000): Promise<number | string> {
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), timeoutMs);
  try {
    return await proc.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** Processes whose command line contains `text` ("pid: command line"), for checks that nothing was left running. */
export function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmdline.includes(text)) found.push(`${pid}: ${cmdline}`);
    } catch {
      // gone
    }
  }
  return found;
}

export { once };
