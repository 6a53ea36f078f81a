/**
 * `ssh -N -L` (client site) through a throw-away `sshd` (relay site): host and user keys (ed25519)
 * generated in the run's temp dir, a minimal sshd_config, default cipher. Set-up through it is a
 * new -L channel over the one established ssh connection.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort, HOST } from '../lib/net.js';
import { startPathProcesses, type BenchContext, type PathDef } from './types.js';

interface SshKeys {
  dir: string;
  hostKey: string;
  userKey: string;
  authorizedKeys: string;
}

let keys: SshKeys | undefined;

function prepareKeys(ctx: BenchContext): SshKeys {
  if (keys && existsSync(keys.hostKey)) return keys;
  const dir = join(ctx.dir, 'ssh');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const hostKey = join(dir, 'host_ed25519');
  const userKey = join(dir, 'user_ed25519');
  for (const file of [hostKey, userKey]) execFileSync(ctx.tools.sshKeygen!, ['-q', '-t', 'ed25519', '-N', '', '-f', file], { stdio: 'ignore' });
  const authorizedKeys = join(dir, 'authorized_keys');
  execFileSync('cp', [`${userKey}.pub`, authorizedKeys]);
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  keys = { dir, hostKey, userKey, authorizedKeys };
  return keys;
}

function sshdConfig(k: SshKeys, host: string, port: number): string {
  const file = join(k.dir, `sshd_config_${port}`);
  writeFileSync(
    file,
    [
      `Port ${port}`,
      `ListenAddress ${host}`,
      `HostKey ${k.hostKey}`,
      `AuthorizedKeysFile ${k.authorizedKeys}`,
      `PidFile ${join(k.dir, `sshd_${port}.pid`)}`,
      'UsePAM no',
      'StrictModes no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'AllowTcpForwarding yes',
      'PermitRootLogin prohibit-password',
      'MaxSessions 10000',
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  return file;
}

export const sshPath: PathDef = {
  id: 'ssh',
  label: "ssh -N -L (sshd in the relay's place)",
  kind: 'baseline',
  unavailable: (ctx) =>
    ctx.tools.ssh && ctx.tools.sshd && ctx.tools.sshKeygen ? undefined : 'ssh/sshd/ssh-keygen not installed (apt-get install socat openssh-server iperf3)',
  start: (ctx, target) => {
    const k = prepareKeys(ctx);
    return startPathProcesses(async (procs) => {
      const sshPort = await freePort();
      const sshHost = ctx.sites.address('relay');
      const sshd = ctx.sites.start('relay', 'sshd', ctx.tools.sshd!, ['-D', '-e', '-f', sshdConfig(k, sshHost, sshPort)]);
      procs.push(sshd);
      await ctx.sites.waitForListening('relay', sshd, { host: sshHost, port: sshPort }, 10_000);
      const port = await freePort();
      const ssh = ctx.sites.start('client', 'ssh -L', ctx.tools.ssh!, [
        '-N',
        '-F', '/dev/null',
        '-o', 'StrictHostKeyChecking=no',
        '-o', 'UserKnownHostsFile=/dev/null',
        '-o', 'BatchMode=yes',
        '-o', 'ExitOnForwardFailure=yes',
        '-o', 'LogLevel=ERROR',
        '-i', k.userKey,
        '-p', String(sshPort),
        '-L', `${HOST}:${port}:${target.host}:${target.port}`,
        `${userInfo().username}@${sshHost}`,
      ]);
      procs.push(ssh);
      await ctx.sites.waitForListening('client', ssh, { host: HOST, port }, 15_000);
      return {
        endpoint: { host: HOST, port },
        watched: [
          { slot: 'sender', role: 'ssh client', pid: ssh.pid },
          { slot: 'listener', role: 'sshd (all processes)', pid: sshd.pid, tree: true },
        ],
      };
    });
  },
};
