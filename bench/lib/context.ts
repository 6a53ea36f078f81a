/** The run's shared context: temp dir, TLS certificate, relay key, baseline tools found on this machine. */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { generateSelfSignedCertificate } from '../../src/relay/self-signed.js';
import type { BenchContext } from '../paths/types.js';
import { loopbackSites } from './sites.js';

function findExecutable(name: string, extraDirs: string[] = []): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), ...extraDirs];
  for (const dir of dirs) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The hybridge commands the built CLI offers (a command still being written is missing). */
function hybridgeCommands(cli: string): Set<string> {
  const r = spawnSync(process.execPath, [cli, '--help'], { encoding: 'utf8', timeout: 20_000 });
  const commands = new Set<string>();
  for (const m of (r.stdout ?? '').matchAll(/^\s{2}([a-z][a-z-]+)\b/gm)) commands.add(m[1]!);
  return commands;
}

/** A checkout's built CLI. */
export function hybridgeCli(root: string): string {
  return join(root, 'dist', 'src', 'cli', 'main.js');
}

/** `root`: this checkout (bench tools); `hybridgeRoot`: the checkout whose built CLI the paths run (default: the same). */
export function createContext(root: string, hybridgeRoot = root): BenchContext {
  const cli = hybridgeCli(hybridgeRoot);
  const dir = mkdtempSync(join(tmpdir(), 'hybridge-bench-'));
  const home = join(dir, 'home');
  mkdirSync(home);
  const cert = generateSelfSignedCertificate(['localhost', '127.0.0.1', '::1']);
  const tlsCertFile = join(dir, 'tls-cert.pem');
  const tlsKeyFile = join(dir, 'tls-key.pem');
  writeFileSync(tlsCertFile, cert.cert);
  writeFileSync(tlsKeyFile, cert.key, { mode: 0o600 });
  const sbin = ['/usr/sbin', '/sbin', '/usr/local/sbin'];
  return {
    dir,
    home,
    tlsCertFile,
    tlsKeyFile,
    cli,
    toolsDir: join(root, 'dist', 'bench', 'tools'),
    relayKeyName: 'RootManageSharedAccessKey',
    relayKey: randomBytes(24).toString('base64url'),
    hyco: 'bench',
    tools: {
      socat: findExecutable('socat'),
      ssh: findExecutable('ssh'),
      sshd: findExecutable('sshd', sbin),
      sshKeygen: findExecutable('ssh-keygen'),
      redisServer: findExecutable('redis-server', sbin),
    },
    commands: hybridgeCommands(cli),
    sites: loopbackSites,
  };
}
