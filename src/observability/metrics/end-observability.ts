import type { ConnectionLifecycle } from '../../forwarding/lifecycle/connection-lifecycle.js';
import { EndMetrics } from './end-metrics.js';
import { startMetricsServer, type MetricsServer } from './metrics-server.js';
import type { MetricsSettings } from './metrics-settings.js';
import { metricsRegistry } from './registry.js';

export interface EndObservability {
  metrics: EndMetrics;
  server: MetricsServer;
}

/** Starts the metrics of an end (bridge, relay-listener, relay-sender) and their `/metrics` listener. */
export async function startEndMetrics(settings: MetricsSettings, lifecycle: ConnectionLifecycle): Promise<EndObservability> {
  const registry = metricsRegistry();
  const metrics = new EndMetrics(registry, lifecycle, { maxTargets: settings.maxTargets });
  const server = await startMetricsServer(settings.address, registry);
  return { metrics, server };
}

