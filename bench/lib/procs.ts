/**
 * Every process the bench starts goes through here: tracked, its output kept (the last 64 KiB) for
 * error messages, and stopped by stopAllProcesses() at the end, on Ctrl-C and on a failed scenario.
 */
import { spawn, type ChildProcess } from 'node:child_process';

const KEEP_OUTPUT = 64 * 1024;

export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** stdout and stderr so far (the tail). */
  output(): string;
  stdout(): string;
  /** Resolves with the first match of `pattern` in the output; rejects on exit or after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  readonly exited: Promise<number | string>;
  hasExited(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

const running = new Set<Proc>();

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export function startProcess(name: string, command: string, args: string[], options: StartOptions = {}): Proc {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env, cwd: options.cwd });
  let out = '';
  let stdoutText = '';
  let exitedFlag = false;
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const w of [...waiters]) w();
  };
  child.stdout?.on('data', (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    out = (out + text).slice(-KEEP_OUTPUT);
    stdoutText = (stdoutText + text).slice(-KEEP_OUTPUT);
    wake();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    out = (out + chunk.toString('utf8')).slice(-KEEP_OUTPUT);
    wake();
  });
  const exited = new Promise<number | string>((resolve) => {
    child.once('error', (err) => {
      out += `\n[spawn error] ${err.message}`;
      exitedFlag = true;
      wake();
      resolve(-1);
    });
    child.once('exit', (code, signal) => {
      exitedFlag = true;
      wake();
      resolve(code ?? signal ?? -1);
    });
  });
  const proc: Proc = {
    name,
    child,
    pid: child.pid ?? -1,
    output: () => out,
    stdout: () => stdoutText,
    hasExited: () => exitedFlag,
    exited,
    waitFor: (pattern, timeoutMs) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`${name}: no ${pattern} in its output within ${timeoutMs} ms; output:\n${tail(out)}`));
        }, timeoutMs);
        const check = () => {
          const m = out.match(pattern);
          if (m || exitedFlag) {
            waiters.delete(check);
            clearTimeout(timer);
            if (m) resolve(m);
            else reject(new Error(`${name} exited before printing ${pattern}; output:\n${tail(out)}`));
          }
        };
        waiters.add(check);
        check();
      }),
    stop: async (graceMs = 3000) => {
      if (!exitedFlag) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      running.delete(proc);
    },
  };
  running.add(proc);
  void exited.then(() => running.delete(proc));
  return proc;
}

export function tail(text: string, lines = 15): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

export async function stopAllProcesses(graceMs = 2000): Promise<void> {
  await Promise.all([...running].map((p) => p.stop(graceMs)));
}

/** Last resort when the bench process itself exits: no child outlives it. */
export function killAllNow(): void {
  for (const p of running) p.child.kill('SIGKILL');
}

export function runningCount(): number {
  return running.size;
}
