import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from './async.js';
import { spawnProcess, type RunningProcess } from './processes.js';

/** The value of one series (`name{labels}` exactly as exposed) in Prometheus text format; undefined when absent. */
export function seriesValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Debian's Prometheus (the `prometheus` package; .ci/run installs it). */
export const PROMETHEUS_BIN = '/usr/bin/prometheus';

export interface ScrapeJob {
  job: string;
  /** host:port */
  target: string;
  metricsPath?: string;
  /** An Authorization header: `type credentials`. */
  authorization?: { type: string; credentials: string };
}

export interface TestPrometheus {
  url: string;
  proc: RunningProcess;
  /** One instant query: the series with their labels and values. */
  query(expr: string): Promise<{ metric: Record<string, string>; value: number }[]>;
  /** Waits (bounded) until `expr` has exactly the value `expected` (a single series). */
  waitForValue(expr: string, expected: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A real Prometheus on loopback with a generated configuration and its own temporary storage,
 * scraping every 500 ms. stop() ends it and removes the storage.
 */
export async function startPrometheus(jobs: ScrapeJob[]): Promise<TestPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'hybridge-prometheus-'));
  const port = await freePort();
  const config = [
    'global:',
    '  scrape_interval: 500ms',
    '  scrape_timeout: 400ms',
    'scrape_configs:',
    ...jobs.flatMap((j) => [
      `  - job_name: ${JSON.stringify(j.job)}`,
      ...(j.metricsPath ? [`    metrics_path: ${JSON.stringify(j.metricsPath)}`] : []),
      ...(j.authorization ? ['    authorization:', `      type: ${JSON.stringify(j.authorization.type)}`, `      credentials: ${JSON.stringify(j.authorization.credentials)}`] : []),
      '    static_configs:',
      `      - targets: [${JSON.stringify(j.target)}]`,
    ]),
  ].join('\n');
  writeFileSync(join(dir, 'prometheus.yml'), `${config}\n`);
  const proc = spawnProcess(PROMETHEUS_BIN, [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--storage.tsdb.retention.time=1h',
    '--log.level=warn',
  ]);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/-/ready`).catch(() => undefined))?.ok === true, 20_000, 'Prometheus ready', 100);
  const query = async (expr: string) => {
    const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await response.json()) as { status: string; error?: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    if (body.status !== 'success') throw new Error(`query ${expr} failed: ${body.error}`);
    return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  };
  return {
    url,
    proc,
    query,
    async waitForValue(expr, expected, timeoutMs = 15_000) {
      let last: string = 'no answer';
      try {
        await waitFor(
          async () => {
            const result = await query(expr);
            last = JSON.stringify(result);
            return result.length === 1 && result[0]!.value === expected;
          },
          timeoutMs,
          expr,
          200,
        );
      } catch {
        throw new Error(`Prometheus never had ${expr} == ${expected}; last answer: ${last}`);
      }
    },
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
