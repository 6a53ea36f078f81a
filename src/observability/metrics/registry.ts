import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * A registry with the process metrics (CPU, memory, event loop lag, GC, open handles) of prom-client.
 * The event loop is sampled every 100 ms, not prom-client's 10 ms: a timer waking every process a
 * hundred times a second is a cost every connection's set-up shares, for lag figures no one reads at
 * that resolution.
 */
export function metricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 });
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
