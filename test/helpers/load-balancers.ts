/**
 * Real load balancers for the tests: Debian's haproxy and nginx, run in the foreground on loopback
 * with a configuration the test writes, stopped by the test. A missing binary fails the test with
 * the package to install (CI installs both, see .ci/run); it never skips.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSelfSignedCertificate } from '../../src/relay/self-signed.js';
import { requireTool } from '../tunnel/tunnel-kit.js';
import { delay } from './async.js';
import { spawnProcess, type RunningProcess } from './processes.js';

export const HAPROXY = '/usr/sbin/haproxy';
export const NGINX = '/usr/sbin/nginx';

export interface BalancerProcess {
  /** The directory holding its configuration, certificate and sockets. */
  dir: string;
  /** The balancer's self-signed certificate (PEM), valid for 127.0.0.1 and localhost: clients trust it. */
  ca: string;
  proc: RunningProcess;
  stop(): Promise<void>;
}

/** A directory with a fresh certificate for the balancer (cert.pem, key.pem, and both in combined.pem for haproxy). */
function prepare(prefix: string): { dir: string; ca: string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const { cert, key } = generateSelfSignedCertificate(['127.0.0.1', 'localhost']);
  writeFileSync(join(dir, 'cert.pem'), cert);
  writeFileSync(join(dir, 'key.pem'), key, { mode: 0o600 });
  writeFileSync(join(dir, 'combined.pem'), cert + key, { mode: 0o600 });
  return { dir, ca: cert };
}

/**
 * Starts haproxy with `config(dir)` (the directory holds combined.pem, its certificate and key),
 * in the foreground; resolves once every port in `ports` accepts connections.
 */
export async function startHaproxy(config: (dir: string) => string, ports: number[]): Promise<BalancerProcess> {
  requireTool(HAPROXY, 'haproxy');
  const { dir, ca } = prepare('hybridge-haproxy-');
  writeFileSync(join(dir, 'haproxy.cfg'), config(dir));
  const proc = spawnProcess(HAPROXY, ['-db', '-f', join(dir, 'haproxy.cfg')]);
  return started({ dir, ca, proc }, ports, 'haproxy');
}

/** Starts nginx with `config(dir)` as its whole nginx.conf (dir holds cert.pem and key.pem), in the foreground. */
export async function startNginx(config: (dir: string) => string, ports: number[]): Promise<BalancerProcess> {
  requireTool(NGINX, 'nginx');
  const { dir, ca } = prepare('hybridge-nginx-');
  writeFileSync(join(dir, 'nginx.conf'), config(dir));
  const proc = spawnProcess(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log'), '-g', `daemon off; pid ${join(dir, 'nginx.pid')};`]);
  return started({ dir, ca, proc }, ports, 'nginx');
}

async function started(b: Omit<BalancerProcess, 'stop'>, ports: number[], what: string): Promise<BalancerProcess> {
  const stop = async () => {
    await b.proc.stop('SIGTERM', 3000);
    rmSync(b.dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) await waitForPort(port, 10_000, () => b.proc.output());
  } catch (err) {
    await stop();
    throw new Error(`${what} did not start: ${(err as Error).message}`);
  }
  return { ...b, stop };
}

async function waitForPort(port: number, timeoutMs: number, output: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`port ${port} not open within ${timeoutMs} ms; output:\n${output()}`);
    await delay(50);
  }
}
