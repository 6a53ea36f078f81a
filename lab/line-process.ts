/**
 * A child process spoken to in lines: its stdout read line by line (next() waits for the next one),
 * its stderr kept for error messages, stopped with SIGTERM then SIGKILL. The lab's own helpers
 * (nfq-impair, the ping-pong and UDP tools) all talk this way.
 */
import type { ChildProcess } from 'node:child_process';

const KEEP_STDERR = 16 * 1024;

export class LineProcess {
  private readonly lines: string[] = [];
  private readonly waiters: (() => void)[] = [];
  private partial = '';
  private stderrText = '';
  private exitCode: number | string | undefined;
  readonly exited: Promise<number | string>;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (text: string) => {
      const parts = (this.partial + text).split('\n');
      this.partial = parts.pop() ?? '';
      this.lines.push(...parts.filter((l) => l.length > 0));
      this.wake();
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => {
      this.stderrText = (this.stderrText + text).slice(-KEEP_STDERR);
    });
    this.exited = new Promise((resolve) => {
      child.once('error', (err) => {
        this.stderrText += `\n${err.message}`;
        this.exitCode = -1;
        this.wake();
        resolve(-1);
      });
      child.once('exit', (code, signal) => {
        this.exitCode = code ?? signal ?? -1;
        this.wake();
        resolve(this.exitCode);
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get hasExited(): boolean {
    return this.exitCode !== undefined;
  }

  stderr(): string {
    return this.stderrText;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** The next stdout line; rejects when the process exits first or after `timeoutMs`. */
  next(timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(check);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`${this.name}: no output line within ${timeoutMs} ms${this.describeStderr()}`));
      }, timeoutMs);
      const check = () => {
        const line = this.lines.shift();
        if (line !== undefined) {
          clearTimeout(timer);
          resolve(line);
        } else if (this.exitCode !== undefined) {
          clearTimeout(timer);
          reject(new Error(`${this.name} exited (${this.exitCode})${this.describeStderr()}`));
        } else this.waiters.push(check);
      };
      check();
    });
  }

  /** The next stdout line parsed as JSON. */
  async nextJson<T>(timeoutMs: number): Promise<T> {
    const line = await this.next(timeoutMs);
    try {
      return JSON.parse(line) as T;
    } catch {
      throw new Error(`${this.name}: expected a JSON line, got: ${line}`);
    }
  }

  /** Writes one line to stdin. */
  send(line: string): void {
    this.child.stdin?.write(`${line}\n`);
  }

  /** Closes stdin (the lab's tools and nfq-impair exit on EOF). */
  endInput(): void {
    this.child.stdin?.end();
  }

  /** Ends stdin, then SIGTERM after `graceMs`, then SIGKILL. */
  async stop(graceMs = 1000): Promise<void> {
    if (this.exitCode !== undefined) return;
    this.endInput();
    const term = setTimeout(() => this.child.kill('SIGTERM'), graceMs);
    const kill = setTimeout(() => this.child.kill('SIGKILL'), graceMs * 2);
    await this.exited;
    clearTimeout(term);
    clearTimeout(kill);
  }

  private describeStderr(): string {
    const text = this.stderrText.trim();
    return text ? `: ${text.split('\n').slice(-3).join(' | ')}` : '';
  }
}
