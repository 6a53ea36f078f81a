/** S6: HTTP through bridge -H vs the same server reached directly; small GET rate and a 1.5 MB response. */
import { runDriver } from '../lib/tools.js';
import { httpPaths } from '../paths/catalog.js';
import { HTTP_LARGE_BYTES, HTTP_SMALL_BYTES, httpBodySha256 } from '../tools/http-bodies.js';
import type { HttpResult } from '../tools/driver-spec.js';
import { cpuDetail } from './memory.js';
import { figure, type MetricDef, type Scenario } from './types.js';

const RPS: MetricDef = { metric: 'rps', label: 'small GET rate', unit: 'req/s', better: 'higher' };
const P50: MetricDef = { metric: 'p50', label: 'small GET p50', unit: 'ms', better: 'lower' };
const P99: MetricDef = { metric: 'p99', label: 'small GET p99', unit: 'ms', better: 'lower' };
const LARGE: MetricDef = { metric: 'large-p50', label: '1.5 MB response p50', unit: 'ms', better: 'lower' };

export const httpScenario: Scenario = {
  id: 's6',
  title: 'HTTP through -H',
  description: (p) =>
    `${p.http.clients} keep-alive clients GET a ${HTTP_SMALL_BYTES}-byte response in a loop for ${p.http.durationMs / 1000} s (after one warm-up request each); then ${p.http.largeCount} sequential GETs of a ${HTTP_LARGE_BYTES / 1e6} MB response (after two warm-ups). Every body SHA-256 checked. Through the relay, requests go to https?://relay/<hyco>/... with a SAS token, and bridge -H forwards them to the same HTTP server.`,
  target: 'http',
  metrics: [RPS, P50, P99, LARGE],
  paths: (_p, tls) => httpPaths(tls),
  run: async ({ ctx, profile, def, path, target, sampled }) => {
    const http = path.http ?? { baseUrl: `http://${target.endpoint.host}:${target.endpoint.port}`, headers: {} };
    const { result: r, sample } = await sampled(() =>
      runDriver<HttpResult>(
      ctx,
      {
        mode: 'http',
        baseUrl: http.baseUrl,
        headers: http.headers,
        clients: profile.http.clients,
        durationMs: profile.http.durationMs,
        smallSha256: httpBodySha256(HTTP_SMALL_BYTES),
        largeCount: profile.http.largeCount,
        largeSha256: httpBodySha256(HTTP_LARGE_BYTES),
        timeoutMs: profile.http.durationMs + 120_000,
      },
      profile.http.durationMs + 140_000,
      path.driverEnv,
    ),
    );
    return [
      figure('s6', def.id, RPS, r.requestsPerSecond, r, { requests: r.requests, cpuSeconds: cpuDetail(sample, r.cpu) }),
      figure('s6', def.id, P50, r.latencyMs.p50, r),
      figure('s6', def.id, P99, r.latencyMs.p99, r),
      figure('s6', def.id, LARGE, r.large.p50, r, { samples: r.large.count, p99: r.large.p99, max: r.large.max }),
    ];
  },
};
