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

/** What a probe needs of a path: where it listens (and for HTTP paths, the base URL and headers). */
export type ProbeTarget = Pick<RunningPath, 'endpoint' | 'http'>;

function httpProbe(path: ProbeTarget, caFile: string | undefined, timeoutMs: number): Promise<boolean> {
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

/** One exchange of the probe for `mode`; true when it went through. */
export function probeOnce(path: ProbeTarget, mode: TargetMode, caFile?: string): Promise<boolean> {
  if (mode === 'echo') return echoProbe(path.endpoint.port, Buffer.from('p'), 3000, path.endpoint.host);
  if (mode === 'bulk') return bulkProbe(path.endpoint, 3000);
  if (mode === 'http') return httpProbe(path, caFile, 3000);
  return udpProbe(path.endpoint, 1000);
}

/**
 * Retries probeOnce() until it succeeds; throws when `failed()` names a reason to stop (a process of
 * the path died) or after `deadlineMs`.
 */
export async function probeUntil(path: ProbeTarget, mode: TargetMode, deadlineMs: number, caFile: string | undefined, failed: () => string | undefined = () => undefined): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (let attempt = 1; ; attempt++) {
    if (await probeOnce(path, mode, caFile)) return;
    const why = failed();
    if (why) throw new Error(why);
    if (Date.now() > until) throw new Error(`the path did not carry a ${mode} probe within ${deadlineMs} ms (${attempt} attempts)`);
    await delay(200);
  }
}

/** Why a path cannot carry a probe any more (one of its processes exited), or undefined. */
export function deadProcess(path: RunningPath): string | undefined {
  const dead = path.procs.find((p) => p.hasExited());
  return dead ? `${dead.name} exited while the path was starting: ${dead.output().trim().split('\n').slice(-5).join(' | ')}` : undefined;
}

/** Retries the probe for `mode` from this process until it succeeds or `deadlineMs` passes (then throws). */
export function probePath(path: RunningPath, mode: TargetMode, deadlineMs: number, caFile?: string): Promise<void> {
  return probeUntil(path, mode, deadlineMs, caFile, () => deadProcess(path));
}
