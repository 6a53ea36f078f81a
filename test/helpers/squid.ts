/**
 * A real squid (Debian's) on a free loopback port, from a generated configuration in a temp
 * directory: no cache, its own log and pid files, CONNECT allowed to every port (squid allows it to
 * SSL_ports only by default, and the test relays listen on random ports), and optionally Basic
 * authentication against an htpasswd file (basic_ncsa_auth). Its access log says which tunnels it
 * carried: squid writes a CONNECT line when the tunnel closes, with the bytes it moved.
 *
 * `relay.hybridge.test` and `login.hybridge.test` resolve to 127.0.0.1 through squid's own hosts
 * file, so a test can name a relay (or a sign-in endpoint) that is not a loopback literal (the
 * proxy environment variables leave loopback alone) and that nothing but the proxy can resolve.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from '../tunnel/tunnel-kit.js';
import { freePort, waitFor } from './async.js';
import { spawnProcess, type RunningProcess } from './processes.js';

export const RELAY_TEST_HOST = 'relay.hybridge.test';
/** The name of the Microsoft Entra ID stand-in (test/helpers/entra-stand-in.ts), also only resolved by squid. */
export const ENTRA_TEST_HOST = 'login.hybridge.test';

const PROXY_VARIABLES = ['http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY', 'no_proxy', 'NO_PROXY'];

/** Extra environment for a hybridge process: no inherited proxy variables, then `extra`. */
export function proxyVariables(extra: Record<string, string> = {}): Record<string, string | undefined> {
  return { ...Object.fromEntries(PROXY_VARIABLES.map((name) => [name, undefined])), ...extra };
}

export interface SquidAccess {
  status: number;
  bytes: number;
  method: string;
  /** `host:port` for CONNECT. */
  target: string;
  /** The authenticated user, or '-'. */
  user: string;
}

export interface TestSquid {
  port: number;
  /** http://[user:password@]127.0.0.1:PORT */
  url(credentials?: { user: string; password: string }): string;
  /** Every access-log line so far, parsed. */
  accesses(): SquidAccess[];
  /** Successful CONNECT tunnels to `target` (host:port) that have closed. */
  tunnelsTo(target: string): SquidAccess[];
  /** squid's own log (stderr), for failure messages. */
  output(): string;
  /** SIGSTOP: the kernel still completes connections, but squid answers nothing until resume(). */
  freeze(): void;
  resume(): void;
  stop(): Promise<void>;
}

const SQUID = '/usr/sbin/squid';
const NCSA_AUTH = '/usr/lib/squid/basic_ncsa_auth';

export async function startSquid(options: { users?: Record<string, string>; connectPorts?: string } = {}): Promise<TestSquid> {
  requireTool(SQUID, 'squid');
  const dir = mkdtempSync(join(tmpdir(), 'hybridge-squid-'));
  const auth: string[] = [];
  if (options.users) {
    requireTool('htpasswd', 'apache2-utils');
    if (!existsSync(NCSA_AUTH)) throw new Error(`${NCSA_AUTH} is missing; install the Debian package "squid"`);
    const file = join(dir, 'htpasswd');
    let create = true;
    for (const [user, password] of Object.entries(options.users)) {
      execFileSync('htpasswd', [...(create ? ['-c'] : []), '-b', '-m', file, user, password], { stdio: 'ignore' });
      create = false;
    }
    auth.push(
      `auth_param basic program ${NCSA_AUTH} ${file}`,
      'auth_param basic realm hybridge-test',
      'auth_param basic children 2',
      'acl authenticated proxy_auth REQUIRED',
      'http_access deny !authenticated',
    );
  }
  writeFileSync(join(dir, 'hosts'), `127.0.0.1 ${RELAY_TEST_HOST} ${ENTRA_TEST_HOST}\n`);
  // Run as root, squid drops to the "proxy" user: it must be able to write its files.
  if (process.getuid?.() === 0) chownTo(dir, 'proxy');

  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const config = [
      `http_port 127.0.0.1:${port}`,
      `pid_filename ${join(dir, 'squid.pid')}`,
      `cache_log ${join(dir, 'cache.log')}`,
      `access_log stdio:${join(dir, 'access.log')} squid`,
      `coredump_dir ${dir}`,
      `hosts_file ${join(dir, 'hosts')}`,
      'dns_nameservers 127.0.0.1',
      'cache deny all',
      'cache_mem 8 MB',
      'netdb_filename none',
      'pinger_enable off',
      'shutdown_lifetime 0 seconds',
      'acl CONNECT method CONNECT',
      `acl relay_ports port ${options.connectPorts ?? '1-65535'}`,
      'http_access deny CONNECT !relay_ports',
      ...auth,
      'http_access allow localhost',
      'http_access deny all',
    ].join('\n');
    writeFileSync(join(dir, 'squid.conf'), `${config}\n`);
    // A service name of its own: squid names its shared memory segments after it, and two squids
    // with the default name (test files run side by side) collide on /dev/shm/squid-*.shm.
    const service = `hybridge${process.pid}n${Math.floor(Math.random() * 1e9)}`;
    const proc = spawnProcess(SQUID, ['-N', '-n', service, '-d', '1', '-f', join(dir, 'squid.conf')]);
    try {
      await proc.waitForOutput(/Accepting HTTP Socket connections|FATAL/, 15_000);
    } catch (err) {
      await proc.stop('SIGKILL');
      throw err;
    }
    if (/FATAL/.test(proc.output())) {
      await proc.stop('SIGKILL');
      // The free port was taken in between: try another one.
      if (attempt < 3 && /Unable to open HTTP Socket/.test(proc.output())) continue;
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`squid did not start:\n${proc.output()}`);
    }
    // The line comes a moment before the socket listens.
    await waitFor(() => accepts(port), 5000, `squid listening on ${port}`);
    return running(proc, port, dir);
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function running(proc: RunningProcess, port: number, dir: string): TestSquid {
  const accesses = (): SquidAccess[] => {
    const file = join(dir, 'access.log');
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        // time elapsed client code/status bytes method url user hierarchy type
        const f = line.trim().split(/\s+/);
        return { status: Number(f[3]!.split('/')[1]), bytes: Number(f[4]), method: f[5]!, target: f[6]!, user: f[7]! };
      });
  };
  return {
    port,
    url: (credentials) =>
      credentials ? `http://${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.password)}@127.0.0.1:${port}` : `http://127.0.0.1:${port}`,
    accesses,
    output: () => proc.output(),
    freeze: () => proc.child.kill('SIGSTOP'),
    resume: () => proc.child.kill('SIGCONT'),
    tunnelsTo: (target) => accesses().filter((a) => a.method === 'CONNECT' && a.status === 200 && a.target === target),
    stop: async () => {
      // SIGTERM costs two seconds even with shutdown_lifetime 0; nothing is lost by SIGKILL (the
      // access log is written line by line), and the auth helpers exit when their stdin closes.
      await proc.stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function chownTo(dir: string, user: string): void {
  const entry = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .map((line) => line.split(':'))
    .find((fields) => fields[0] === user);
  if (!entry) throw new Error(`squid runs as the "${user}" user, which does not exist; install the Debian package "squid"`);
  chownSync(dir, Number(entry[2]), Number(entry[3]));
}
