/**
 * The relay's metrics for what goes wrong and what is not a stream: refused senders and listeners by
 * result and status, authentication failures by reason, refusals the failure throttle held back,
 * relayed HTTP requests by status, listener disconnects (a relay in this process, real sockets); and
 * a cluster's membership and Redis health (processes, a real redis-server), before and after Redis
 * goes away.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createConnection, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { HybridConnectionListener } from '../../src/client/index.js';
import { RelayMetrics } from '../../src/observability/metrics/relay-metrics.js';
import { waitFor, withTimeout } from '../helpers/async.js';
import { seriesValue } from '../helpers/prometheus.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { startCluster, type Cluster } from '../cluster/cluster-kit.js';
import { expectRefusal, hcUrl, httpRequest } from '../relay/protocol-peers.js';

/** The value of one sample (0 when absent), e.g. value(registry, 'x_total', { entity: 'a' }). */
async function value(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name);
  assert.ok(metric, `${name} is registered`);
  const samples = (await metric.get()).values.filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want));
  return samples.reduce((sum, v) => sum + v.value, 0);
}

describe('relay metrics: sockets the socket gate closes', () => {
  test('the per-address cap and the handshake deadline are counted by reason', async () => {
    const relay = await startRelay({ hybridConnections: ['g'], limits: { maxUnauthenticatedPerAddress: 2, handshakeTimeoutMs: 600 } });
    const registry = new Registry();
    const { server } = relay;
    new RelayMetrics(registry, { node: 'n1', lifecycle: server.lifecycle, events: server.events, listenerEntities: () => [], socketRefusals: () => server.socketRefusals() });
    const sockets: Socket[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const socket = createConnection({ host: '127.0.0.1', port: relay.port });
        socket.on('error', () => undefined);
        await once(socket, 'connect');
        sockets.push(socket);
      }
      const closed = sockets.map((s): Promise<unknown> => (s.destroyed ? Promise.resolve() : once(s, 'close')));
      await withTimeout(closed[2]!, 3000, 'the third socket is closed at once');
      assert.equal(await value(registry, 'hybridge_relay_socket_refusals_total', { reason: 'unauthenticated_per_address' }), 1);
      await withTimeout(Promise.all(closed), 5000, 'the two silent sockets are closed at the deadline');
      assert.equal(await value(registry, 'hybridge_relay_socket_refusals_total', { reason: 'handshake_timeout' }), 2);
      assert.equal(await value(registry, 'hybridge_relay_socket_refusals_total', { reason: 'max_sockets' }), 0);
    } finally {
      for (const s of sockets) s.destroy();
      await relay.stop();
    }
  });
});

describe('relay metrics: refusals, throttling, HTTP, disconnects', () => {
  let relay: TestRelay;
  let registry: Registry;

  before(async () => {
    relay = await startRelay({ hybridConnections: ['rm', 'rm-web'] });
    registry = new Registry();
    const { server } = relay;
    new RelayMetrics(registry, { node: 'n1', lifecycle: server.lifecycle, events: server.events, listenerEntities: () => server.directory.localChannels().map((c) => c.entity) });
  });
  after(async () => {
    await relay?.stop();
  });

  test('refused senders and listeners are counted by result, status and reason', async () => {
    const good = { ServiceBusAuthorization: relay.token('rm') };
    const wrong = { ServiceBusAuthorization: relay.token('rm', { key: 'not-the-key-0123456789abcdef' }) };
    assert.equal((await expectRefusal(hcUrl(relay, 'rm', 'connect'), good)).status, 404, 'no listener');
    assert.equal((await expectRefusal(hcUrl(relay, 'rm', 'connect'), wrong)).status, 401);
    assert.equal((await expectRefusal(hcUrl(relay, 'rm', 'listen'), wrong)).status, 401);
    assert.equal((await expectRefusal(hcUrl(relay, 'rm', 'connect'))).status, 401, 'no token');

    assert.equal(await value(registry, 'hybridge_relay_sender_connections_total', { entity: 'rm', result: 'client_error' }), 3);
    assert.equal(await value(registry, 'hybridge_relay_listener_connections_total', { entity: 'rm', result: 'client_error' }), 1);
    assert.equal(await value(registry, 'hybridge_relay_refused_total', { role: 'sender', status: '404' }), 1);
    assert.equal(await value(registry, 'hybridge_relay_refused_total', { role: 'sender', status: '401' }), 2);
    assert.equal(await value(registry, 'hybridge_relay_refused_total', { role: 'listener', status: '401' }), 1);
    assert.equal(await value(registry, 'hybridge_relay_auth_failures_total', { role: 'sender', reason: 'InvalidSignature' }), 1);
    assert.equal(await value(registry, 'hybridge_relay_auth_failures_total', { role: 'listener', reason: 'InvalidSignature' }), 1);
    assert.equal(await value(registry, 'hybridge_relay_auth_failures_total', { role: 'sender', reason: 'MissingToken' }), 1);
    assert.equal(await value(registry, 'hybridge_relay_sender_connections_total', { result: 'success' }), 0);
  });

  test('a burst of bad handshakes: each is an auth failure, the ones held back are counted as throttled', async () => {
    const before = await value(registry, 'hybridge_relay_auth_failures_total', { role: 'sender' });
    const wrong = { ServiceBusAuthorization: relay.token('rm', { key: 'not-the-key-0123456789abcdef' }) };
    const flood = await Promise.all(Array.from({ length: 40 }, () => expectRefusal(hcUrl(relay, 'rm', 'connect'), wrong, 10_000)));
    assert.ok(flood.every((r) => r.status === 401));
    assert.equal((await value(registry, 'hybridge_relay_auth_failures_total', { role: 'sender' })) - before, 40);
    const throttled = await value(registry, 'hybridge_relay_throttled_total', { role: 'sender' });
    assert.ok(throttled >= 1 && throttled <= 40, `throttled ${throttled}`);
  });

  test('relayed HTTP requests by status; a listener that leaves is a listener disconnect', async () => {
    const listener = new HybridConnectionListener({ connectionString: relay.connectionString('rm-web') });
    listener.requestHandler = (request, response) => {
      response.statusCode = request.url.includes('missing') ? 404 : 200;
      response.end('answer');
    };
    try {
      await withTimeout(listener.open(), 10_000, 'listener open');
      await waitFor(async () => (await value(registry, 'hybridge_relay_active_listeners', { entity: 'rm-web' })) === 1, 5000, 'the listener is counted');
      const headers = { ServiceBusAuthorization: relay.token('rm-web') };
      assert.equal((await httpRequest(`${relay.httpBase}/rm-web/a`, { headers })).status, 200);
      assert.equal((await httpRequest(`${relay.httpBase}/rm-web/b`, { headers })).status, 200);
      assert.equal((await httpRequest(`${relay.httpBase}/rm-web/missing`, { headers })).status, 404);
      assert.equal((await httpRequest(`${relay.httpBase}/rm-web/c`)).status, 401, 'no token');
      await waitFor(async () => (await value(registry, 'hybridge_relay_http_requests_total', { entity: 'rm-web' })) === 4, 5000, 'four requests counted');
      assert.equal(await value(registry, 'hybridge_relay_http_requests_total', { entity: 'rm-web', status: '200' }), 2);
      assert.equal(await value(registry, 'hybridge_relay_http_requests_total', { entity: 'rm-web', status: '404' }), 1);
      assert.equal(await value(registry, 'hybridge_relay_http_requests_total', { entity: 'rm-web', status: '401' }), 1);
      assert.equal(await value(registry, 'hybridge_relay_auth_failures_total', { role: 'http', reason: 'MissingToken' }), 1);
    } finally {
      await withTimeout(listener.close(), 10_000, 'listener close');
    }
    await waitFor(async () => (await value(registry, 'hybridge_relay_listener_disconnects_total', { entity: 'rm-web' })) === 1, 5000, 'the disconnect is counted');
    assert.equal(await value(registry, 'hybridge_relay_active_listeners', { entity: 'rm-web' }), 0);
    assert.equal(await value(registry, 'hybridge_relay_listener_connections_total', { entity: 'rm-web', result: 'success' }), 1);
  });
});

describe('relay metrics: cluster membership and Redis health (processes)', { timeout: 60_000 }, () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({ hycos: ['rm-c'], nodes: 2 });
  });
  after(async () => {
    await cluster?.stop();
  });

  test('each node reports the live nodes and that it reaches Redis; 0 once Redis is gone', async () => {
    const scrape = async (node: Cluster['nodes'][number]) => {
      const response = await fetch(`${node.httpUrl}/$hybridge/metrics`, { headers: { ServiceBusAuthorization: cluster.token('') }, signal: AbortSignal.timeout(5000) });
      assert.equal(response.status, 200);
      return response.text();
    };
    for (const node of cluster.nodes) {
      await waitFor(async () => seriesValue(await scrape(node), 'hybridge_relay_cluster_nodes') === 2, 15_000, `${node.id} sees both nodes`);
      const text = await scrape(node);
      assert.equal(seriesValue(text, 'hybridge_relay_redis_up'), 1);
      assert.equal(seriesValue(text, `hybridge_relay_node_info{node="${node.id}"}`), 1);
    }
    await cluster.redis.stop();
    for (const node of cluster.nodes) await waitFor(async () => seriesValue(await scrape(node), 'hybridge_relay_redis_up') === 0, 20_000, `${node.id} reports Redis down`);
  });
});
