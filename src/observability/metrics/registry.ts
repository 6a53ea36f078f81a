import { Registry } from 'prom-client';
import eventLoopLag from 'prom-client/lib/metrics/eventLoopLag.js';
import heapSizeAndUsed from 'prom-client/lib/metrics/heapSizeAndUsed.js';
import heapSpacesSizeAndUsed from 'prom-client/lib/metrics/heapSpacesSizeAndUsed.js';
import osMemoryHeap from 'prom-client/lib/metrics/osMemoryHeap.js';
import processCpuTotal from 'prom-client/lib/metrics/processCpuTotal.js';
import processHandles from 'prom-client/lib/metrics/processHandles.js';
import processMaxFileDescriptors from 'prom-client/lib/metrics/processMaxFileDescriptors.js';
import processOpenFileDescriptors from 'prom-client/lib/metrics/processOpenFileDescriptors.js';
import processRequests from 'prom-client/lib/metrics/processRequests.js';
import processResources from 'prom-client/lib/metrics/processResources.js';
import processStartTime from 'prom-client/lib/metrics/processStartTime.js';
import version from 'prom-client/lib/metrics/version.js';

/**
 * prom-client's process metrics (CPU, memory, heap, event loop lag, handles, descriptors), all of
 * collectDefaultMetrics() but the GC duration histogram: its GC observer cost the relay about 25 MiB
 * of RSS under an allocation-heavy flood (the attack suite's frozen listener: 2,000 inline HTTP
 * bodies), while everything else is read only when Prometheus scrapes. The event loop is sampled
 * every 100 ms, not prom-client's 10 ms: a timer waking every process a hundred times a second is a
 * cost every connection's set-up shares, for lag figures no one reads at that resolution.
 */
const PROCESS_COLLECTORS = [
  processCpuTotal,
  processStartTime,
  osMemoryHeap,
  processOpenFileDescriptors,
  processMaxFileDescriptors,
  eventLoopLag,
  ...(typeof process.getActiveResourcesInfo === 'function' ? [processResources] : []),
  processHandles,
  processRequests,
  heapSizeAndUsed,
  heapSpacesSizeAndUsed,
  version,
];

export function metricsRegistry(): Registry {
  const registry = new Registry();
  for (const collect of PROCESS_COLLECTORS) collect(registry, { eventLoopMonitoringPrecision: 100 });
  return registry;
}

/** Byte totals of finished connections, kept per label set; live connections are added at scrape time. */
export class Totals<K extends string> {
  private readonly values = new Map<string, { labels: Record<K, string>; value: number }>();

  add(labels: Record<K, string>, value: number): void {
    const key = Object.values(labels).join('\u0000');
    const entry = this.values.get(key);
    if (entry) entry.value += value;
    else this.values.set(key, { labels, value });
  }

  /** The totals plus `live`, as one list of (labels, value). */
  withLive(live: Iterable<[Record<K, string>, number]>): { labels: Record<K, string>; value: number }[] {
    const merged = new Map<string, { labels: Record<K, string>; value: number }>();
    for (const [key, entry] of this.values) merged.set(key, { labels: entry.labels, value: entry.value });
    for (const [labels, value] of live) {
      const key = Object.values(labels).join('\u0000');
      const entry = merged.get(key);
      if (entry) entry.value += value;
      else merged.set(key, { labels, value });
    }
    return [...merged.values()];
  }
}
