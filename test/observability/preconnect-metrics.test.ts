/**
 * Pre-connected sockets of real bridge processes, through a TCP pass-through in front of the
 * hybridge relay (in this process) that records every connection the relay's host accepts:
 * - a listener (bridge -T) warms its pool for the relay host as soon as its control channel is up,
 *   so its first rendezvous runs on a socket accepted before any sender asked for a connection;
 *   with --preconnect 0 that rendezvous opens a connection of its own;
 * - the ends' /metrics count the handshakes that took a pre-connected socket and those that opened
 *   a new one, and gauge the idle sockets, per relay host.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { endBridgeSuite, exchange, startBridge, startEchoTarget, type TcpTarget } from '../bridge/bridge-kit.js';
import { freePort, waitFor } from '../helpers/async.js';
import { countingFront } from '../helpers/counting-front.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { seriesValue } from '../helpers/prometheus.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';

type Front = Awaited<ReturnType<typeof countingFront>>;

describe('pre-connected sockets of bridge processes: a warm listener pool, and their metrics', { timeout: 90_000 }, () => {
  let relay: TestRelay;
  let front: Front;
  let echo: TcpTarget;
  before(async () => {
    relay = await startRelay({ hybridConnections: ['pm-warm', 'pm-cold', 'pm-metrics'] });
    front = await countingFront(relay.port);
    echo = await startEchoTarget();
  });
  after(async () => {
    front?.server.close();
    await endBridgeSuite(relay);
  });

  const through = () => relay.connectionString().replace(`:${relay.port}/`, `:${front.port}/`);
  const host = () => `127.0.0.1:${front.port}`;
  /** The rendezvous (sb-hc-action=accept) requests on `hyco`, with when their TCP connection was accepted. */
  const rendezvous = (hyco: string) => front.seen.filter((s) => /sb-hc-action=accept/.test(s.requestLine ?? '') && s.requestLine!.includes(`/${hyco}?`));

  async function firstRendezvousAfterIdle(hyco: string, preconnect: string[]): Promise<{ acceptedAt: number; asked: number }> {
    const remote = await startBridge(['-x', through(), '-T', `${hyco}:echo/127.0.0.1:${echo.port}`, ...preconnect]);
    const port = await freePort();
    // The sender connects to the relay directly: only the listener's sockets pass the front.
    const local = await startBridge(['-x', relay.connectionString(), '-L', `127.0.0.1:${port}/echo:${hyco}`, '--preconnect', '0']);
    try {
      // Let a pool that fills on start do so (it would within milliseconds), then ask for one connection.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const asked = performance.now();
      const payload = patternBytes(20_000, 3);
      assert.equal((await exchange({ port }, payload)).sha256, sha256(payload));
      await waitFor(() => rendezvous(hyco).length === 1, 5000, 'the rendezvous passed the front');
      return { acceptedAt: rendezvous(hyco)[0]!.acceptedAt, asked };
    } finally {
      await local.stop('SIGTERM');
      await remote.stop('SIGTERM');
    }
  }

  it('a listener warms its pool once its control channel is up: its first rendezvous runs on a socket accepted before the connection was asked for', async () => {
    const { acceptedAt, asked } = await firstRendezvousAfterIdle('pm-warm', []);
    assert.ok(acceptedAt < asked, `the rendezvous socket was accepted ${(asked - acceptedAt).toFixed(0)} ms before the client connected`);
  });

  it('with --preconnect 0 the first rendezvous opens a connection of its own', async () => {
    const { acceptedAt, asked } = await firstRendezvousAfterIdle('pm-cold', ['--preconnect', '0']);
    assert.ok(acceptedAt >= asked, 'the rendezvous socket was opened for the connection');
  });

  it('the ends count handshakes on pre-connected and on new sockets, and gauge the idle ones, per relay host', async () => {
    const metrics = { listener: await freePort(), sender: await freePort() };
    const scrape = async (end: keyof typeof metrics) => (await fetch(`http://127.0.0.1:${metrics[end]}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
    const expectSeries = async (end: keyof typeof metrics, series: string, expected: number) => {
      let text = '';
      try {
        await waitFor(async () => seriesValue((text = await scrape(end)), series) === expected, 10_000, series, 100);
      } catch {
        assert.fail(`${end}: ${series} never was ${expected}:\n${text.split('\n').filter((l) => l.includes('preconnect')).join('\n')}`);
      }
    };
    const handshakes = (socket: string) => `hybridge_preconnect_handshakes_total{host="${host()}",socket="${socket}"}`;
    const idle = `hybridge_preconnect_idle_sockets{host="${host()}"}`;
    const port = await freePort();
    await startBridge(['-x', through(), '-T', `pm-metrics:echo/127.0.0.1:${echo.port}`, '--metrics-addr', `127.0.0.1:${metrics.listener}`]);
    await startBridge(['-x', through(), '-L', `127.0.0.1:${port}/echo:pm-metrics`, '--metrics-addr', `127.0.0.1:${metrics.sender}`]);
    // The listener's pool is warm before any rendezvous; the sender's host is not in use yet.
    await expectSeries('listener', idle, 2);
    assert.equal(seriesValue(await scrape('sender'), idle), undefined);

    const payload = patternBytes(30_000, 9);
    assert.equal((await exchange({ port }, payload)).sha256, sha256(payload));
    // The sender's first connect found nothing ready; the listener's rendezvous took a warm socket.
    await expectSeries('sender', handshakes('new'), 1);
    await expectSeries('listener', handshakes('preconnected'), 1);
    await expectSeries('sender', idle, 2);
    await expectSeries('listener', idle, 2);
    for (let i = 0; i < 3; i++) {
      assert.equal((await exchange({ port }, payload)).sha256, sha256(payload));
      await expectSeries('sender', idle, 2);
      await expectSeries('listener', idle, 2);
    }
    await expectSeries('sender', handshakes('preconnected'), 3);
    await expectSeries('sender', handshakes('new'), 1);
    await expectSeries('listener', handshakes('preconnected'), 4);
    assert.equal(seriesValue(await scrape('listener'), handshakes('new')), undefined, 'no rendezvous had to open a connection');
  });
});
