import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { closeAll, digestOf, exchange, startBridge, startEchoTarget, track, type TcpTarget } from '../bridge/bridge-kit.js';
import { freePort, withTimeout } from '../helpers/async.js';
import { Digest, patternBytes } from '../helpers/data.js';
import { stopAll } from '../helpers/processes.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** A target that hashes everything it receives and, after the client's FIN, answers with the digest. */
async function startDigestSink(): Promise<{ port: number; server: Server }> {
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    const digest = new Digest();
    socket.on('error', () => undefined);
    socket.on('data', (c: Buffer) => digest.update(c));
    socket.on('end', () => socket.end(`${digest.length} ${digest.hex()}\n`));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as { port: number }).port, server };
}

/** A TCP proxy to 127.0.0.1:`port` that holds every chunk back for `delayMs`, in both directions. */
interface ProxiedConnection { acceptedAt: number; forwardedAt: number[] }

async function startLatencyProxy(port: number, delayMs: number): Promise<{ port: number; connections: ProxiedConnection[]; close(): Promise<void> }> {
  const sockets = new Set<import('node:net').Socket>();
  const connections: ProxiedConnection[] = [];
  const delayed = (from: import('node:net').Socket, to: import('node:net').Socket, seen?: ProxiedConnection) => {
    from.on('data', (chunk: Buffer) => {
      seen?.forwardedAt.push(performance.now());
      setTimeout(() => to.write(chunk), delayMs);
    });
    from.on('end', () => setTimeout(() => to.end(), delayMs));
    from.on('error', () => to.destroy());
    from.on('close', () => setTimeout(() => to.destroy(), delayMs + 10));
  };
  const server = createServer({ allowHalfOpen: true }, (client) => {
    const upstream = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    }
    const seen: ProxiedConnection = { acceptedAt: performance.now(), forwardedAt: [] };
    connections.push(seen);
    delayed(client, upstream, seen);
    delayed(upstream, client);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return track({
    port: (server.address() as { port: number }).port,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  });
}

/** Streams `total` bytes of distinct 1 MiB blocks, hashing as it goes; resolves with the reply text. */
function sendStream(port: number, total: number): Promise<{ sent: string; reply: string; ms: number }> {
  const started = Date.now();
  const hash = createHash('sha256');
  const base = patternBytes(MiB, 101);
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let reply = '';
    let offset = 0;
    const write = () => {
      while (offset < total) {
        const block = Buffer.from(base);
        block.writeUInt32BE(offset / MiB, 8);
        offset += block.length;
        hash.update(block);
        if (!socket.write(block)) return void socket.once('drain', write);
      }
      socket.end();
    };
    socket.once('connect', write);
    socket.on('data', (c: Buffer) => (reply += c.toString()));
    socket.once('end', () => resolve({ sent: `${total} ${hash.digest('hex')}`, reply: reply.trim(), ms: Date.now() - started }));
    socket.once('error', reject);
  });
}

describe('hybridge bridge: volume (processes)', () => {
  let relay: TestRelay;
  let sink: { port: number; server: Server };
  let echo: TcpTarget;

  before(async () => {
    relay = await startRelay({ hybridConnections: ['sl-big', 'sl-many', 'sl-cold', 'sl-warm'] });
    sink = await startDigestSink();
    echo = await startEchoTarget();
  });

  after(async () => {
    await stopAll();
    await closeAll();
    sink?.server.close();
    await relay?.stop();
  });

  test('1 GiB through one connection, SHA-256 checked at the target', async (t) => {
    const cs = relay.connectionString();
    const port = await freePort();
    const remote = await startBridge(['-x', cs, '-T', `sl-big:${sink.port}`]);
    const local = await startBridge(['-x', cs, '-L', `${port}:sl-big`]);
    const result = await withTimeout(sendStream(port, GiB), 120_000, '1 GiB transfer');
    assert.equal(result.reply, result.sent, 'the target received 1 GiB with the same SHA-256');
    t.diagnostic(`1 GiB in ${result.ms} ms (${((GiB / MiB) / (result.ms / 1000)).toFixed(0)} MiB/s)`);
    await Promise.all([local.stop(), remote.stop()]);
  });

  test('200 concurrent connections, 1 MiB each way on each, every byte checked', async (t) => {
    const cs = relay.connectionString();
    const port = await freePort();
    const remote = await startBridge(['-x', cs, '-T', `sl-many:${echo.port}`]);
    const local = await startBridge(['-x', cs, '-L', `${port}:sl-many`]);
    const payloads = Array.from({ length: 200 }, (_, i) => patternBytes(MiB, 200 + i));
    const started = Date.now();
    const results = await Promise.all(payloads.map((payload) => exchange({ port }, payload, 90_000)));
    const ms = Date.now() - started;
    results.forEach((got, i) => assert.deepEqual({ length: got.length, sha256: got.sha256 }, digestOf(payloads[i]!), `connection ${i}`));
    t.diagnostic(`200 connections x 1 MiB each way in ${ms} ms`);
    await Promise.all([local.stop(), remote.stop()]);
  });

  test('--prewarm: a new client connection rides a relay connection opened before it arrived (relay 40 ms away)', async (t) => {
    // The local bridges reach the relay through a proxy that delays every chunk by 20 ms each way and
    // records when it accepted each relay connection and when each one carried bytes towards the relay.
    const slowRelay = await startLatencyProxy(relay.port, 20);
    const slowCs = relay.connectionString().replace(/Endpoint=ws:\/\/127\.0\.0\.1:\d+\//, `Endpoint=ws://127.0.0.1:${slowRelay.port}/`);
    const cs = relay.connectionString();
    const [coldPort, warmPort] = [await freePort(), await freePort()];
    const remoteCold = await startBridge(['-x', cs, '-T', `sl-cold:${echo.port}`]);
    const remoteWarm = await startBridge(['-x', cs, '-T', `sl-warm:${echo.port}`]);
    // --preconnect 0: no pre-connected sockets either, so "cold" opens a TCP connection per client connection.
    const cold = await startBridge(['-x', slowCs, '--preconnect', '0', '-L', `${coldPort}:sl-cold`]);
    const warm = await startBridge(['-x', slowCs, '--prewarm', '4', '-L', `${warmPort}:sl-warm`]);
    await new Promise((r) => setTimeout(r, 500));
    const payload = patternBytes(100, 300);
    /** For each of 5 client connections: did one relay connection accepted before the client connected carry its bytes? */
    const carriedByEarlierConnection = async (port: number) => {
      const verdicts: boolean[] = [];
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const start = performance.now();
        const got = await exchange({ port }, payload);
        const end = performance.now();
        assert.equal(got.sha256, digestOf(payload).sha256);
        times.push(got.ms);
        verdicts.push(slowRelay.connections.some((c) => c.acceptedAt < start && c.forwardedAt.some((at) => at >= start && at <= end)));
        await new Promise((r) => setTimeout(r, 300));
      }
      return { verdicts, times };
    };
    const coldRun = await carriedByEarlierConnection(coldPort);
    const warmRun = await carriedByEarlierConnection(warmPort);
    t.diagnostic(`client connection times (connect, 100 bytes each way, close): cold ${coldRun.times.join(', ')} ms; prewarmed ${warmRun.times.join(', ')} ms`);
    assert.deepEqual(coldRun.verdicts, [false, false, false, false, false], 'without --prewarm (and --preconnect 0) every client connection opens its relay connection after it arrives');
    assert.deepEqual(warmRun.verdicts, [true, true, true, true, true], 'with --prewarm every client connection is carried by a relay connection that was already open');
    await Promise.all([cold.stop(), warm.stop(), remoteCold.stop(), remoteWarm.stop()]);
    await slowRelay.close();
  });
});
