import { spawn, type ChildProcess } from 'node:child_process';
import { hybridgeCommand } from '../util/self-command.js';
import { clearTimer } from '../util/clear-timer.js';

/** A `hybridge` child process of the demo, with its output kept for readiness checks and errors. */
export class DemoProcess {
  readonly child: ChildProcess;
  private output = '';
  private exited = false;

  constructor(
    readonly label: string,
    readonly args: string[],
    env: NodeJS.ProcessEnv = {},
  ) {
    const { command, args: prefix } = hybridgeCommand();
    this.child = spawn(command, [...prefix, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    const keep = (chunk: Buffer) => (this.output += chunk.toString('utf8'));
    this.child.stdout!.on('data', keep);
    this.child.stderr!.on('data', keep);
    this.child.once('exit', () => (this.exited = true));
  }

  /** Resolves with the first match of `pattern` in the output; fails on exit or after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const deadline = Date.now() + timeoutMs;
      const poll = setInterval(() => {
        const match = this.output.match(pattern);
        if (match) {
          clearTimer(poll);
          resolve(match);
        } else if (this.exited || Date.now() > deadline) {
          clearTimer(poll);
          reject(new Error(`${this.label} ${this.exited ? 'exited' : 'did not get ready'}:\n${this.output.trim().split('\n').slice(-5).join('\n')}`));
        }
      }, 20);
    });
  }

  stop(): Promise<void> {
    if (this.exited) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
      this.child.once('exit', () => {
        clearTimer(timer);
        resolve();
      });
      this.child.kill('SIGTERM');
    });
  }
}
