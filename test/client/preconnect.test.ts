/**
 * The client library's pre-connected sockets against the hybridge relay, counted at the TCP level
 * by a pass-through in front of the relay (what the relay's host sees): once a sender and a
 * listener are in use, the next connection's `connect` upgrade and the listener's rendezvous
 * (`accept`) both come on TCP connections accepted before createConnection() was called; with
 * `preconnect: 0` each comes on a connection of its own, opened for it.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { HybridConnectionClient, HybridConnectionListener, type HybridConnectionStream } from '../../src/client/index.js';
import { waitFor } from '../helpers/async.js';
import { countingFront, type Seen } from '../helpers/counting-front.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';

async function echoRoundTrip(client: HybridConnectionClient): Promise<void> {
  const stream = await client.createConnection({ retryBudgetMs: 0 });
  const payload = patternBytes(50_000, 51);
  const parts: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => parts.push(chunk));
  const ended = once(stream, 'end');
  stream.end(payload);
  await ended;
  assert.equal(sha256(Buffer.concat(parts)), sha256(payload));
}

describe('pre-connected sockets to the hybridge relay (counted at the TCP level)', { timeout: 60_000 }, () => {
  let relay: TestRelay;
  let front: Awaited<ReturnType<typeof countingFront>>;
  before(async () => {
    relay = await startRelay({ hybridConnections: ['warm', 'cold'] });
    front = await countingFront(relay.port);
  });
  after(async () => {
    front?.server.close();
    await relay?.stop();
  });

  function through(entity: string): string {
    return relay.connectionString(entity).replace(`:${relay.port}/`, `:${front.port}/`);
  }

  async function pair(entity: string, preconnect: number): Promise<{ client: HybridConnectionClient; listener: HybridConnectionListener }> {
    const listener = new HybridConnectionListener({ connectionString: through(entity), preconnect });
    listener.on('connection', (stream: HybridConnectionStream) => {
      stream.on('error', () => undefined);
      stream.pipe(stream);
    });
    await listener.open();
    return { client: new HybridConnectionClient({ connectionString: through(entity), preconnect }), listener };
  }

  /** The TCP connections that carried requests made after `t0`, by request. */
  function requestsAfter(t0: number): Seen[] {
    return front.seen.filter((s) => s.firstByteAt !== undefined && s.firstByteAt >= t0);
  }

  it('the next connect and its rendezvous run on sockets the relay accepted before they were asked for', async () => {
    const { client, listener } = await pair('warm', 2);
    const origin = { host: '127.0.0.1', port: front.port, secure: false };
    try {
      await echoRoundTrip(client);
      await waitFor(() => client.connection.warm!.readyCount(origin) === 2 && listener.connection.warm!.readyCount(origin) === 2, 5000, 'both ends hold two warm sockets');
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        await echoRoundTrip(client);
        const carried = requestsAfter(t0);
        assert.deepEqual(
          carried.map((s) => /sb-hc-action=(\w+)/.exec(s.requestLine ?? '')?.[1]).sort(),
          ['accept', 'connect'],
          'one connect and one rendezvous since t0',
        );
        assert.ok(carried.every((s) => s.acceptedAt < t0), 'both on TCP connections accepted before the connection was asked for');
        await waitFor(() => client.connection.warm!.readyCount(origin) === 2 && listener.connection.warm!.readyCount(origin) === 2, 5000, 'refilled');
      }
    } finally {
      client.close();
      await listener.close();
    }
  });

  it('with preconnect 0, each upgrade opens a TCP connection of its own', async () => {
    const { client, listener } = await pair('cold', 0);
    try {
      assert.equal(client.connection.warm, undefined);
      await echoRoundTrip(client);
      const t0 = performance.now();
      await echoRoundTrip(client);
      const carried = requestsAfter(t0);
      assert.equal(carried.length, 2);
      assert.ok(carried.every((s) => s.acceptedAt >= t0), 'opened for the connection');
    } finally {
      await listener.close();
    }
  });
});
