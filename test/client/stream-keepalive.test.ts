import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ConnectionLostError, DEFAULT_STREAM_KEEPALIVE_MS, HybridConnectionClient, type HybridConnectionStream } from '../../src/client/index.js';
import { withTimeout } from '../helpers/async.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { listenerFor } from './fixtures.js';

/** A TCP proxy to the relay that can freeze: it stops moving bytes without closing anything. */
async function freezableProxy(targetPort: number): Promise<{ port: number; freeze(): void; close(): Promise<void> }> {
  const pairs: [Socket, Socket][] = [];
  let frozen = false;
  const server: Server = createServer((inbound) => {
    const outbound = connect(targetPort, '127.0.0.1');
    pairs.push([inbound, outbound]);
    inbound.on('data', (d: Buffer) => frozen || outbound.write(d));
    outbound.on('data', (d: Buffer) => frozen || inbound.write(d));
    inbound.on('error', () => outbound.destroy());
    outbound.on('error', () => inbound.destroy());
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    freeze: () => (frozen = true),
    close: async () => {
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('relayed stream keep-alive', () => {
  let relay: TestRelay;
  before(async () => {
    relay = await startRelay({ hybridConnections: ['ka'] });
  });
  after(() => relay.stop());

  it('pings every 30 s by default, as aztunnel does against Azure Relay idle timeouts', () => {
    assert.equal(DEFAULT_STREAM_KEEPALIVE_MS, 30_000);
  });

  it('keeps an idle connection open, and declares it lost when the path goes silent', async () => {
    const listener = listenerFor(relay, 'ka');
    const accepted: HybridConnectionStream[] = [];
    listener.on('connection', (s) => {
      accepted.push(s);
      s.on('error', () => undefined);
    });
    await listener.open();
    const proxy = await freezableProxy(relay.port);
    try {
      const client = new HybridConnectionClient({ connectionString: relay.connectionString('ka').replace(`:${relay.port}/`, `:${proxy.port}/`) });
      const stream = await client.createConnection({ keepAliveIntervalMs: 200, retryBudgetMs: 0 });
      // Idle for several ping intervals: pings are answered, nothing is lost.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      assert.equal(stream.destroyed, false, 'an answered ping keeps the connection');
      proxy.freeze();
      const started = Date.now();
      const error = await withTimeout(new Promise<Error>((resolve) => stream.once('error', resolve)), 5000, 'keep-alive failure');
      assert.ok(error instanceof ConnectionLostError, String(error));
      assert.match(error.message, /keep-alive/);
      assert.ok(Date.now() - started < 2000, `detected after ${Date.now() - started} ms`);
    } finally {
      await proxy.close();
      for (const s of accepted) s.destroy();
      await listener.close();
    }
  });
});
