import type { Command } from 'commander';
import { checkWritable } from '../observability/events/json-lines-file.js';
import { parseWebhookUrl, redactUrl, WebhookUrlError } from '../observability/events/webhooks.js';
import { DashboardFilesMissingError, dashboardRoutes } from '../observability/dashboard/dashboard-routes.js';
import { MetricsAddressError, parseMetricsAddress } from '../observability/metrics/metrics-server.js';
import type { RelayObservability, RelayObservabilityOptions } from '../observability/relay-observability.js';
import type { Logger } from '../util/logger.js';
import { collect, parsePositiveInt } from './common-options.js';
import { ExitCode, fail } from './errors.js';

export interface ObservabilityFlags {
  metricsAddr?: string;
  metricsMaxEntities: string;
  eventLog?: string;
  auditLog?: string;
  webhook: string[];
  logFile?: string;
  dashboard?: boolean;
  /** false with --no-metrics. */
  metrics: boolean;
}

/** The relay's monitoring flags (docs/operations.md). */
export function addObservabilityOptions(command: Command): Command {
  return command
    .option('--metrics-addr <host:port>', 'also serve Prometheus metrics without authentication at http://<host:port>/metrics (default off; GET /$hybridge/metrics on the relay port always works with a Manage token)')
    .option('--no-metrics', 'no Prometheus metrics at all (GET /$hybridge/metrics answers 404; status, events and the dashboard still work)')
    .option('--metrics-max-entities <n>', 'hybrid connections with their own "entity" label in the metrics; the rest count as "__other__"', '100')
    .option('--event-log <file>', 'append every lifecycle event (listener online/offline, connections, refusals, ...) as one JSON line to this file; reopened on SIGHUP')
    .option('--audit-log <file>', 'append every management operation (rule used, operation, entity, result; never a key) as one JSON line to this file; reopened on SIGHUP')
    .option('--webhook <url>', 'POST listener online/offline and key-change events as JSON to this URL, with retries (repeatable)', collect, [])
    .option('--log-file <file>', 'append the log to this file instead of stderr; reopened on SIGHUP')
    .option('--dashboard', 'serve the web dashboard at /$hybridge/dashboard (sign in with a namespace Manage connection string or SAS token)');
}

/** The flags, checked before anything starts: one line and exit 2 for a bad value, 1 for a file that cannot be written. */
export async function observabilityFrom(flags: ObservabilityFlags, log: Logger): Promise<RelayObservabilityOptions> {
  let metricsAddress;
  if (!flags.metrics && flags.metricsAddr !== undefined) fail('--metrics-addr and --no-metrics contradict each other; give one');
  try {
    metricsAddress = flags.metricsAddr === undefined ? undefined : parseMetricsAddress(flags.metricsAddr);
  } catch (err) {
    if (err instanceof MetricsAddressError) fail(err.message);
    throw err;
  }
  const maxEntities = parsePositiveInt(flags.metricsMaxEntities, '--metrics-max-entities', 0, 100_000);
  const webhooks: URL[] = [];
  for (const text of flags.webhook) {
    try {
      webhooks.push(parseWebhookUrl(text));
    } catch (err) {
      if (err instanceof WebhookUrlError) fail(err.message);
      throw err;
    }
  }
  for (const [flag, path] of [['--event-log', flags.eventLog], ['--audit-log', flags.auditLog]] as const) {
    if (path === undefined) continue;
    try {
      await checkWritable(path);
    } catch (err) {
      fail(`${flag}: ${(err as Error).message}`, ExitCode.Failure);
    }
  }
  let dashboard;
  try {
    dashboard = flags.dashboard ? dashboardRoutes() : undefined;
  } catch (err) {
    if (err instanceof DashboardFilesMissingError) fail(`--dashboard: ${err.message}`, ExitCode.Failure);
    throw err;
  }
  return { log, metrics: flags.metrics, metricsAddress, maxEntities, eventLog: flags.eventLog, auditLog: flags.auditLog, webhooks, dashboard };
}

/** Starts the `--metrics-addr` listener (exit 1 with one line when it cannot bind) and logs what is on. */
export async function startObservability(observability: RelayObservability, options: RelayObservabilityOptions, log: Logger): Promise<void> {
  let port;
  try {
    port = await observability.start();
  } catch (err) {
    if (err instanceof MetricsAddressError) fail(err.message, ExitCode.Failure);
    throw err;
  }
  const host = options.metricsAddress?.host ?? '*';
  log.info(
    {
      metrics: options.metrics === false ? 'off' : port === undefined ? 'GET /$hybridge/metrics (Manage token)' : `http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics`,
      eventLog: options.eventLog,
      auditLog: options.auditLog,
      webhooks: options.webhooks?.length ? options.webhooks.map(redactUrl).join(', ') : undefined,
      dashboard: options.dashboard ? '/$hybridge/dashboard' : undefined,
    },
    'monitoring',
  );
}

