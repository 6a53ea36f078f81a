/**
 * The ends' metrics carry every series aztunnel's registry has, with its labels, so dashboards built
 * for aztunnel read hybridge's ends unchanged; relay token fetches are counted as aztunnel counts them
 * (each getToken call, a cached token included, by provider and result).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { fetchToken } from '../../src/client/token-fetch.js';
import { EntraTokenProvider, SasKeyTokenProvider, SharedAccessSignatureTokenProvider, type TokenProvider } from '../../src/client/token-provider.js';
import { ConnectionLifecycle } from '../../src/forwarding/lifecycle/connection-lifecycle.js';
import { EndMetrics } from '../../src/observability/metrics/end-metrics.js';
import { createSasToken } from '../../src/protocol/sas-token.js';
import { silentLogger } from '../../src/util/logger.js';

/** (provider, result, value) of each sample named `sample` of the metric `name`, sorted. */
async function samples(registry: Registry, name: string, sample = name): Promise<(string | number)[][]> {
  const metric = registry.getSingleMetric(name);
  assert.ok(metric, `${name} is registered`);
  const values = ((await metric.get()).values as { labels: Record<string, string | number>; value: number; metricName?: string }[]).filter((v) => (v.metricName ?? name) === sample);
  return values.map((v) => [v.labels.provider!, v.labels.result!, v.value]).sort();
}

describe('end metrics', () => {
  test('every aztunnel series is there with aztunnel\'s labels', async () => {
    const registry = new Registry();
    new EndMetrics(registry, new ConnectionLifecycle(silentLogger()));
    const names = Object.fromEntries((await registry.getMetricsAsJSON()).map((m) => [m.name, m.type]));
    assert.deepEqual(
      Object.fromEntries(Object.entries(names).filter(([name]) => name.startsWith('aztunnel_'))),
      {
        aztunnel_connections_total: 'counter',
        aztunnel_connection_errors_total: 'counter',
        aztunnel_bytes_total: 'counter',
        aztunnel_active_connections: 'gauge',
        aztunnel_control_channel_connected: 'gauge',
        aztunnel_connection_duration_seconds: 'histogram',
        aztunnel_dial_duration_seconds: 'histogram',
        aztunnel_token_fetch_seconds: 'histogram',
        aztunnel_token_fetch_total: 'counter',
      },
    );
  });

  test('token fetches are counted and timed by provider and result', async () => {
    const registry = new Registry();
    new EndMetrics(registry, new ConnectionLifecycle(silentLogger()));
    const sas = new SasKeyTokenProvider('rule', 'a-key-of-some-length-0123456789');
    await fetchToken(sas, 'http://relay/hc/');
    await fetchToken(sas, 'http://relay/hc/'); // the cached token is one more fetch, as in aztunnel
    await fetchToken(new SharedAccessSignatureTokenProvider(createSasToken('http://relay/hc/', 'rule', 'k', Math.floor(Date.now() / 1000) + 60)), 'http://relay/hc/');
    const failing = new EntraTokenProvider({ getToken: async () => Promise.reject(new Error('no credential here')) });
    await assert.rejects(fetchToken(failing, 'http://relay/hc/'), /could not get a Microsoft Entra ID token/);
    const custom: TokenProvider = { getToken: async () => ({ token: 't', expiresAt: Date.now() + 60_000 }) };
    await fetchToken(custom, 'http://relay/hc/'); // not one of the library's providers: not counted

    assert.deepEqual(await samples(registry, 'aztunnel_token_fetch_total'), [['entra', 'error', 1], ['sas', 'ok', 3]]);
    assert.deepEqual(await samples(registry, 'aztunnel_token_fetch_seconds', 'aztunnel_token_fetch_seconds_count'), [['entra', 'error', 1], ['sas', 'ok', 3]]);
  });
});
