/**
 * Readiness probes: a path counts as up when one exchange with the target went through it end to
 * end (the relay, both ends and the target). Each retries until its deadline.
 */
import { createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { delay, echoProbe, exchangeProbe } from './net.js';
import type { Endpoint, RunningPath } from '../paths/types.js';

export type TargetMode = 'echo' | 'bulk' | 'http' | 'udp';

/** Asks the bulk target for zero bytes; it answers with the SHA-256 of the empty stream. */
function bulkProbe(endpoint: Endpoint, timeoutMs: number): Promise<boolean> {
  const emptyDigest = createHash('sha256').digest();
  return exchangeProbe(endpoint, Buffer.from([0x55, 0, 0, 0, 0, 0, 0, 0, 0]), emptyDigest, timeoutMs);
}

function httpProbe(path: RunningPath, caFile: string | undefined, timeoutMs: number): Promise<boolean> {
  const base = path.http?.baseUrl ?? `http://${path.endpoint.host}:${path.endpoint.port}`;
  const url = new URL(`${base}/small`);
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    const req = lib.request(url, { headers: path.http?.headers ?? {}, timeout: timeoutMs, ca: caFile ? readFileSync(caFile) : undefined }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

function udpProbe(endpoint: Endpoint, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    const payload = Buffer.from('udp probe');
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.close();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('message', (msg) => done(msg.equals(payload)));
    socket.on('error', () => done(false));
    socket.send(payload, endpoint.port, endpoint.host);
  });
}

/** Retries the probe for `mode` until it succeeds or `deadlineMs` passes (then throws). */
export async function probePath(path: RunningPath, mode: TargetMode, deadlineMs: number, caFile?: string): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (let attempt = 1; ; attempt++) {
    const ok =
      mode === 'echo'
        ? await echoProbe(path.endpoint.port, Buffer.from('p'), 3000, path.endpoint.host)
        : mode === 'bulk'
          ? await bulkProbe(path.endpoint, 3000)
          : mode === 'http'
            ? await httpProbe(path, caFile, 3000)
            : await udpProbe(path.endpoint, 1000);
    if (ok) return;
    const dead = path.procs.find((p) => p.hasExited());
    if (dead) throw new Error(`${dead.name} exited while the path was starting: ${dead.output().trim().split('\n').slice(-5).join(' | ')}`);
    if (Date.now() > until) throw new Error(`the path did not carry a ${mode} probe within ${deadlineMs} ms (${attempt} attempts)`);
    await delay(200);
  }
}
