/**
 * A throw-away sshd on 127.0.0.1 accepting one generated key for the current user, and an ssh
 * client run against it through a ProxyCommand (the tunnel and Arc tests drive hybridge that way).
 */
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { requireTool } from '../tunnel/tunnel-kit.js';
import { freePort } from './async.js';
import { spawnProcess, type RunningProcess } from './processes.js';

export interface TestSshd {
  proc: RunningProcess;
  port: number;
  /** The private key sshd accepts. */
  key: string;
}

export async function startSshd(dir: string): Promise<TestSshd> {
  requireTool('/usr/sbin/sshd', 'openssh-server');
  requireTool('ssh', 'openssh-client');
  requireTool('ssh-keygen', 'openssh-client');
  if (!existsSync('/run/sshd')) {
    try {
      mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    } catch (err) {
      throw new Error(`sshd needs the directory /run/sshd; create it (as root: mkdir -p /run/sshd): ${(err as Error).message}`);
    }
  }
  for (const name of ['host_key', 'user_key']) {
    if (!existsSync(join(dir, name))) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'hybridge-test', '-f', join(dir, name)]);
  }
  copyFileSync(join(dir, 'user_key.pub'), join(dir, 'authorized_keys'));
  chmodSync(join(dir, 'authorized_keys'), 0o600);
  const port = await freePort();
  const config = [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${join(dir, 'host_key')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    'UsePAM no',
    'StrictModes no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'LogLevel VERBOSE',
  ].join('\n');
  writeFileSync(join(dir, 'sshd_config'), `${config}\n`);
  const proc = spawnProcess('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')]);
  await proc.waitForOutput(new RegExp(`Server listening on 127\\.0\\.0\\.1 port ${port}`), 10_000);
  return { proc, port, key: join(dir, 'user_key') };
}

/** ssh to the test sshd as the current user, through `proxyCommand`, running `command`. */
export function sshArgs(sshd: TestSshd, proxyCommand: string, command: string): string[] {
  return [
    '-F', '/dev/null',
    '-o', 'StrictHostKeyChecking=no',
    '-o', 'UserKnownHostsFile=/dev/null',
    '-o', 'BatchMode=yes',
    '-o', 'IdentitiesOnly=yes',
    '-o', 'LogLevel=ERROR',
    '-i', sshd.key,
    '-o', `ProxyCommand=${proxyCommand}`,
    '-p', String(sshd.port),
    `${userInfo().username}@127.0.0.1`,
    command,
  ];
}

export function runSsh(args: string[], env: NodeJS.ProcessEnv, input?: Buffer): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile('ssh', args, { env, encoding: 'buffer', maxBuffer: 16 * 1024 * 1024, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr: stderr.toString() });
    });
    child.stdin!.end(input ?? Buffer.alloc(0));
  });
}
