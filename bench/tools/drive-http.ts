/**
 * S6: `clients` keep-alive clients GET /small in a loop for `durationMs` (requests per second and
 * latency), then `largeCount` sequential GET /large (1.5 MB) after two warm-up requests. Every
 * body is checked by SHA-256.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { HttpResult, HttpSpec } from './driver-spec.js';
import { describe, ErrorLog } from './error-log.js';
import { percentiles } from '../lib/stats.js';

function get(url: URL, headers: Record<string, string>, agent: http.Agent): Promise<{ status: number; sha256: string }> {
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(url, { method: 'GET', headers, agent, timeout: 30_000 }, (res) => {
      const hash = createHash('sha256');
      res.on('data', (chunk: Buffer) => hash.update(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, sha256: hash.digest('hex') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('request timed out after 30 s')));
    req.on('error', reject);
    req.end();
  });
}

export async function driveHttp(spec: HttpSpec): Promise<HttpResult> {
  const errors = new ErrorLog();
  const base = spec.baseUrl.replace(/\/$/, '');
  const secure = base.startsWith('https:');
  const agent = secure ? new https.Agent({ keepAlive: true, maxSockets: spec.clients }) : new http.Agent({ keepAlive: true, maxSockets: spec.clients });
  const small = new URL(`${base}/small`);
  const large = new URL(`${base}/large`);
  const check = async (url: URL, expect: string): Promise<number | undefined> => {
    const started = performance.now();
    try {
      const r = await get(url, spec.headers, agent);
      const ms = performance.now() - started;
      if (r.status !== 200) errors.add(`HTTP ${r.status}`);
      else if (r.sha256 !== expect) errors.add('body SHA-256 mismatch');
      else return ms;
    } catch (err) {
      errors.add(describe(err));
    }
    return undefined;
  };

  // Warm-up: one request per client opens the keep-alive connections.
  await Promise.all(Array.from({ length: spec.clients }, () => check(small, spec.smallSha256)));
  const latencies: number[] = [];
  const started = performance.now();
  const until = started + spec.durationMs;
  await Promise.all(
    Array.from({ length: spec.clients }, async () => {
      while (performance.now() < until) {
        const ms = await check(small, spec.smallSha256);
        if (ms !== undefined) latencies.push(ms);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;

  const largeTimes: number[] = [];
  for (let i = 0; i < spec.largeCount + 2; i++) {
    const ms = await check(large, spec.largeSha256);
    if (ms !== undefined && i >= 2) largeTimes.push(ms);
  }
  agent.destroy();
  return {
    mode: 'http',
    ...errors.result,
    requests: latencies.length,
    requestsPerSecond: latencies.length / seconds,
    latencyMs: percentiles(latencies),
    large: percentiles(largeTimes),
  };
}
