// Shared by test/e2e/server-cli.test.ts and test/e2e/management-cli.test.ts: runs the built
// `hybridge` command as a real process and starts `hybridge server` processes.
import { once } from 'node:events';
import { spawnHybridge, waitExit, type RunningProcess } from '../helpers/processes.js';
import { withTimeout } from '../helpers/async.js';

export const ROOT_RULE = 'RootManageSharedAccessKey';

export interface CliResult {
  code: number | string;
  stdout: string;
  stderr: string;
}

/** The environment without anything that would change which relay or CA the CLI uses. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.HYBRIDGE_CONNECTION_STRING;
  delete env.NODE_EXTRA_CA_CERTS;
  return { ...env, ...extra };
}

/** Runs `hybridge ...args` to completion (bounded) and returns its exit code and both streams. */
export async function runCli(args: string[], env: NodeJS.ProcessEnv = cleanEnv(), timeoutMs = 20_000): Promise<CliResult> {
  const proc = spawnHybridge(args, { env });
  const closed = once(proc.child, 'close');
  let stdout = '';
  let stderr = '';
  proc.child.stdout?.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  proc.child.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  proc.child.stdin?.end();
  const code = await waitExit(proc, timeoutMs);
  // 'exit' can come before the last piped output; 'close' comes after it.
  await withTimeout(closed, 5000, `output of hybridge ${args.slice(0, 4).join(' ')}`);
  return { code, stdout, stderr };
}

/** Runs a command that must succeed and prints JSON; returns the parsed JSON. */
export async function cliJson<T = unknown>(args: string[], env?: NodeJS.ProcessEnv): Promise<T> {
  const result = await runCli(args, env);
  if (result.code !== 0) throw new Error(`hybridge ${args.join(' ')} exited with ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

export interface ServerProcess {
  proc: RunningProcess;
  port: number;
  /** The URL the server logged, e.g. ws://127.0.0.1:PORT */
  url: string;
}

/**
 * Starts `hybridge server --host 127.0.0.1 --port 0 ...args` and waits until it listens (and, with
 * `firstStart`, until the root connection string is out: stdout and stderr arrive in either order).
 */
export async function startServer(args: string[], options: { firstStart?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<ServerProcess> {
  const proc = spawnHybridge(['server', '--host', '127.0.0.1', '--port', '0', ...args], { env: options.env ?? cleanEnv() });
  const match = await proc.waitForOutput(/relay listening url=(\S+)/, 15_000);
  if (options.firstStart) await proc.waitForOutput(/Root connection string[^\n]*\nEndpoint=\S+\n/, 5000);
  const url = match[1]!;
  return { proc, url, port: Number(new URL(url).port) };
}

/** The root connection string a server printed at its first start, if it printed one. */
export function printedRootConnectionString(output: string): string | undefined {
  return /Root connection string[^\n]*\n(Endpoint=\S+)/.exec(output)?.[1];
}

export function connectionString(port: number, keyName: string, key: string, options: { secure?: boolean; entityPath?: string } = {}): string {
  const endpoint = `${options.secure ? 'sb' : 'ws'}://127.0.0.1:${port}/`;
  return `Endpoint=${endpoint};SharedAccessKeyName=${keyName};SharedAccessKey=${key}${options.entityPath ? `;EntityPath=${options.entityPath}` : ''}`;
}

/** Asserts-friendly view of a one-line error: the line, or undefined when stderr is not exactly one line. */
export function oneLine(stderr: string): string | undefined {
  const lines = stderr.split('\n').filter((l) => l.length > 0);
  return lines.length === 1 ? lines[0] : undefined;
}
