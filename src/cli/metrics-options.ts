import type { Command } from 'commander';
import type { ConnectionLifecycle } from '../forwarding/lifecycle/connection-lifecycle.js';
import type { EndMetrics } from '../observability/metrics/end-metrics.js';
import { METRICS_ADDR_ENV, MetricsAddressError, metricsSettings, type MetricsFlags, type MetricsSettings } from '../observability/metrics/metrics-settings.js';
import type { Logger } from '../util/logger.js';
import { ExitCode, fail } from './errors.js';

/** `--metrics-addr` and `--metrics-max-targets` (aztunnel's flags) for an end command. */
export function addMetricsOptions(command: Command, aztunnelEnv = false): Command {
  return command
    .option('--metrics-addr <host:port>', `serve Prometheus metrics at http://<host:port>/metrics (":9464" for every interface; default off)${aztunnelEnv ? ` [env ${METRICS_ADDR_ENV}]` : ''}`)
    .option('--metrics-max-targets <n>', 'distinct target label values in the metrics before "__other__" (0 = no cap)', '500');
}

/** The metrics flags, checked (one line and exit 2 for a bad one); undefined when metrics are off. */
export function metricsFrom(flags: MetricsFlags, aztunnelEnv = false): MetricsSettings | undefined {
  try {
    return metricsSettings(flags, aztunnelEnv ? process.env : undefined);
  } catch (err) {
    if (err instanceof MetricsAddressError) fail(err.message);
    throw err;
  }
}

/** Starts the metrics listener (exit 1 with one line when its address cannot be bound). */
export async function serveMetrics(settings: MetricsSettings | undefined, lifecycle: ConnectionLifecycle, log: Logger): Promise<EndMetrics | undefined> {
  if (!settings) return undefined;
  // Loaded only when metrics are on: prom-client alone is a good part of a command's start-up time.
  const { startEndMetrics } = await import('../observability/metrics/end-observability.js');
  try {
    const { metrics, server } = await startEndMetrics(settings, lifecycle);
    const host = settings.address.host ?? '*';
    log.info({ metrics: `http://${host.includes(':') ? `[${host}]` : host}:${server.port}/metrics` }, 'serving metrics');
    return metrics;
  } catch (err) {
    if (err instanceof MetricsAddressError) fail(err.message, ExitCode.Failure);
    throw err;
  }
}
