/**
 * A real SOCKS5 server, Debian's Dante (`danted`), on a free loopback port from a generated
 * configuration, with no authentication or with RFC 1929 username/password. Dante checks
 * usernames against the system's accounts, so the password test creates a throwaway system user
 * and deletes it afterwards. Its log (stderr) says which destinations it connected to.
 *
 * Dante runs in a private mount namespace whose /etc/hosts maps `relay.hybridge.test` to
 * 127.0.0.1: only the proxy can resolve that name, so a relay reached by it proves that the client
 * sent the name (remote DNS) rather than an address. Both need root, as CI has.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from '../tunnel/tunnel-kit.js';
import { freePort } from './async.js';
import { spawnProcess, type RunningProcess } from './processes.js';
import { RELAY_TEST_HOST } from './squid.js';

export interface TestDante {
  port: number;
  /** socks5://[user:password@]127.0.0.1:PORT */
  url(credentials?: { user: string; password: string }): string;
  /** Finished SOCKS sessions whose destination was 127.0.0.1:`port`. */
  sessionsTo(port: number): number;
  /** Refusals of a username/password, so far. */
  authenticationFailures(): number;
  output(): string;
  stop(): Promise<void>;
}

const DANTED = '/usr/sbin/danted';

export async function startDante(options: { usernames?: boolean } = {}): Promise<TestDante> {
  requireTool(DANTED, 'dante-server');
  const dir = mkdtempSync(join(tmpdir(), 'hybridge-dante-'));
  if (process.getuid?.() !== 0) throw new Error('the SOCKS5 tests need root: Dante runs in a mount namespace of its own and checks passwords against system accounts');
  requireTool('unshare', 'util-linux');
  writeFileSync(join(dir, 'hosts'), `127.0.0.1 localhost\n::1 localhost\n127.0.0.1 ${RELAY_TEST_HOST}\n`);
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const config = [
      'logoutput: stderr',
      `internal: 127.0.0.1 port = ${port}`,
      'external: 127.0.0.1',
      `socksmethod: ${options.usernames ? 'username' : 'none'}`,
      'clientmethod: none',
      'user.privileged: root',
      'user.unprivileged: nobody',
      'client pass {',
      '  from: 127.0.0.0/8 to: 0.0.0.0/0',
      '  log: error',
      '}',
      'socks pass {',
      '  from: 127.0.0.0/8 to: 0.0.0.0/0',
      '  command: connect',
      '  log: connect disconnect error',
      '}',
    ].join('\n');
    writeFileSync(join(dir, 'danted.conf'), `${config}\n`);
    // unshare and sh exec, so the process stopped at the end is danted itself.
    const script = 'mount --bind "$1" /etc/hosts && exec "$2" -f "$3" -p "$4" -N 1';
    const proc = spawnProcess('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', join(dir, 'hosts'), DANTED, join(dir, 'danted.conf'), join(dir, 'danted.pid')]);
    try {
      await proc.waitForOutput(/running|error/, 10_000);
    } catch (err) {
      await proc.stop('SIGKILL');
      throw err;
    }
    if (!/running/.test(proc.output())) {
      await proc.stop('SIGKILL');
      if (attempt < 3 && /Address already in use/.test(proc.output())) continue;
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`danted did not start:\n${proc.output()}`);
    }
    return running(proc, port, dir);
  }
}

function running(proc: RunningProcess, port: number, dir: string): TestDante {
  return {
    port,
    url: (credentials) =>
      credentials ? `socks5://${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.password)}@127.0.0.1:${port}` : `socks5://127.0.0.1:${port}`,
    // A session's last line: "pass(1): tcp/connect ]: ... -> <client> <proxy> -> 0, 0 -> <out> 127.0.0.1.<port> -> 0: ..."
    sessionsTo: (target) => proc.output().split('\n').filter((line) => /tcp\/connect \]/.test(line) && line.includes(` 127.0.0.1.${target} `)).length,
    authenticationFailures: () => proc.output().split('\n').filter((line) => /password authentication failed/.test(line)).length,
    output: () => proc.output(),
    stop: async () => {
      await proc.stop('SIGTERM', 3000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ThrowawayUser {
  user: string;
  password: string;
  remove(): void;
}

/** A system account without home or shell for Dante's username check; remove() deletes it. */
export function createThrowawayUser(): ThrowawayUser {
  requireTool('useradd', 'passwd');
  const user = `hbproxy${randomBytes(4).toString('hex')}`;
  const password = `pw-${randomBytes(9).toString('base64url')}`;
  execFileSync('useradd', ['--no-create-home', '--no-user-group', '--shell', '/usr/sbin/nologin', '--comment', 'hybridge proxy test (throwaway)', user], { stdio: 'ignore' });
  try {
    execFileSync('chpasswd', [], { input: `${user}:${password}\n`, stdio: ['pipe', 'ignore', 'ignore'] });
  } catch (err) {
    execFileSync('userdel', [user], { stdio: 'ignore' });
    throw err;
  }
  return { user, password, remove: () => execFileSync('userdel', [user], { stdio: 'ignore' }) };
}
