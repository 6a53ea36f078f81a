/**
 * Pre-connected sockets (src/websocket/warm-sockets.ts), proven by counting at the server: a warm
 * socket was accepted before the handshake was asked for, TLS on it resumed the last session, a
 * socket the server closed while it waited is dropped and never used, idle ones expire.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ProxyPolicy } from '../../src/proxy/proxy-policy.js';
import { generateSelfSignedCertificate } from '../../src/relay/self-signed.js';
import { openWebSocket } from '../../src/websocket/client-handshake.js';
import { acceptUpgrade } from '../../src/websocket/server-handshake.js';
import { WarmSockets } from '../../src/websocket/warm-sockets.js';
import { waitFor } from '../helpers/async.js';

interface CountingServer {
  server: Server;
  port: number;
  /** TCP connections accepted, and the sockets themselves. */
  accepted: Socket[];
  upgrades: number;
  /** Accepted sockets that never asked for anything (the pool's waiting ones). */
  waiting(): Socket[];
}

async function countingServer(make: () => Server): Promise<CountingServer> {
  const server = make();
  const upgraded = new Set<Socket>();
  const counting: CountingServer = { server, port: 0, accepted: [], upgrades: 0, waiting: () => counting.accepted.filter((s) => !upgraded.has(s) && !s.destroyed) };
  server.on('connection', (socket: Socket) => counting.accepted.push(socket));
  server.on('secureConnection', () => undefined);
  server.on('upgrade', (req, socket: Socket) => {
    counting.upgrades++;
    upgraded.add(socket);
    socket.on('error', () => undefined);
    acceptUpgrade(req, socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  counting.port = (server.address() as AddressInfo).port;
  return counting;
}

describe('pre-connected sockets', () => {
  const cert = generateSelfSignedCertificate(['127.0.0.1'], 'warm relay');
  let plain: CountingServer;
  let secure: CountingServer;
  before(async () => {
    plain = await countingServer(() => createHttpServer());
    secure = await countingServer(() => createHttpsServer({ cert: cert.cert, key: cert.key }));
  });
  after(() => {
    for (const s of [plain, secure]) {
      s.server.close();
      // Upgraded sockets are no longer the HTTP server's to close.
      for (const socket of s.accepted) socket.destroy();
    }
  });

  it('a handshake after the first runs on a socket the server accepted before it was asked for', async () => {
    const warm = new WarmSockets({ perHost: 2 });
    const origin = { host: '127.0.0.1', port: plain.port, secure: false };
    try {
      const first = await openWebSocket(`ws://127.0.0.1:${plain.port}/a`, { timeoutMs: 5000, warm });
      assert.equal(first.preconnected, false, 'nothing was warm before the first use');
      first.socket.destroy();
      await waitFor(() => warm.readyCount(origin) === 2, 5000, 'two sockets warm');
      const acceptedBefore = plain.accepted.length;
      const second = await openWebSocket(`ws://127.0.0.1:${plain.port}/b`, { timeoutMs: 5000, warm });
      assert.equal(second.preconnected, true);
      // The handshake itself opened no TCP connection: the count moved only by the refill.
      const refilled = await waitFor(() => warm.readyCount(origin) === 2, 5000, 'refilled');
      assert.ok(refilled);
      assert.equal(plain.accepted.length, acceptedBefore + 1, 'one new connection: the refill, none for the handshake');
      assert.deepEqual([warm.stats.taken, plain.upgrades], [1, 2]);
      second.socket.destroy();
    } finally {
      warm.close();
    }
  });

  it('over TLS the warm socket has its handshake done already, resuming the last session', async () => {
    const warm = new WarmSockets({ perHost: 1 }, { ca: cert.cert });
    const origin = { host: '127.0.0.1', port: secure.port, secure: true };
    try {
      const first = await openWebSocket(`wss://127.0.0.1:${secure.port}/a`, { timeoutMs: 5000, tls: { ca: cert.cert }, warm });
      assert.deepEqual([first.preconnected, first.tlsSessionReused], [false, false]);
      // TLS 1.3 tickets arrive after the handshake; the warm socket may be opened before them, so
      // the one after it is the one that must resume.
      await new Promise((resolve) => setTimeout(resolve, 100));
      first.socket.destroy();
      for (let i = 0; i < 2; i++) {
        await waitFor(() => warm.readyCount(origin) === 1, 5000, 'one socket warm');
        const next = await openWebSocket(`wss://127.0.0.1:${secure.port}/n${i}`, { timeoutMs: 5000, tls: { ca: cert.cert }, warm });
        assert.equal(next.preconnected, true);
        if (i === 1) assert.equal(next.tlsSessionReused, true, 'the warm socket resumed the TLS session');
        next.socket.destroy();
      }
    } finally {
      warm.close();
    }
  });

  /** A pool of one that holds one socket the server accepted, and that socket at the server's side. */
  async function oneParked(): Promise<{ warm: WarmSockets; parked: Socket }> {
    const warm = new WarmSockets({ perHost: 1 });
    const origin = { host: '127.0.0.1', port: plain.port, secure: false };
    (await openWebSocket(`ws://127.0.0.1:${plain.port}/a`, { timeoutMs: 5000, warm })).socket.destroy();
    await waitFor(() => warm.readyCount(origin) === 1, 5000, 'one socket warm');
    await waitFor(() => plain.waiting().length === 1, 5000, 'the server holds one waiting socket');
    return { warm, parked: plain.waiting()[0]! };
  }

  it('a socket the server closed while it waited is dropped and never used', async () => {
    const { warm, parked } = await oneParked();
    try {
      parked.end();
      await waitFor(() => warm.stats.diedIdle === 1, 5000, 'the pool saw the server close it');
      const upgradesBefore = plain.upgrades;
      const next = await openWebSocket(`ws://127.0.0.1:${plain.port}/b`, { timeoutMs: 5000, warm });
      assert.equal(next.preconnected, false, 'the dead socket was not handed out');
      assert.equal(plain.upgrades, upgradesBefore + 1);
      next.socket.destroy();
    } finally {
      warm.close();
    }
  });

  it('a socket the server closes just as it is taken is replaced by a new connection', async () => {
    const { warm, parked } = await oneParked();
    try {
      // The server resets the connection without reading: the request written on it is lost.
      parked.pause();
      const opening = openWebSocket(`ws://127.0.0.1:${plain.port}/b`, { timeoutMs: 5000, warm });
      parked.resetAndDestroy();
      const opened = await opening;
      assert.equal(opened.preconnected, false, 'answered on a new connection');
      assert.equal(warm.stats.taken, 1);
      opened.socket.destroy();
    } finally {
      warm.close();
    }
  });

  it('idle sockets are closed after idleMs; a host not used for keepWarmMs is let go', async () => {
    const warm = new WarmSockets({ perHost: 2, idleMs: 200, keepWarmMs: 600 });
    const origin = { host: '127.0.0.1', port: plain.port, secure: false };
    try {
      const usedAt = Date.now();
      (await openWebSocket(`ws://127.0.0.1:${plain.port}/a`, { timeoutMs: 5000, warm })).socket.destroy();
      await waitFor(() => warm.stats.expired >= 2, 5000, 'idle sockets expired');
      // Let go: keepWarmMs after the last use, with no socket waiting or connecting. (Polling for no
      // ready socket alone once caught the moment between a pair's expiry and its refill's connect.)
      await waitFor(() => Date.now() - usedAt > 600 && warm.pendingCount(origin) === 0, 5000, 'the host was let go');
      assert.ok(warm.stats.expired >= 4, `the pool was refilled while the host was in use (${warm.stats.expired} expired)`);
      const expired = warm.stats.expired;
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(warm.stats.expired, expired, 'no more sockets opened for a host not in use');
      assert.equal(warm.readyCount(origin), 0);
    } finally {
      warm.close();
    }
  });

  it('a refused connect is retried with a back-off, not in a loop', async () => {
    const closed = await countingServer(() => createHttpServer());
    const port = closed.port;
    closed.server.close();
    await once(closed.server, 'close');
    const warm = new WarmSockets({ perHost: 2 });
    try {
      assert.equal(warm.take({ host: '127.0.0.1', port, secure: false }), undefined);
      await new Promise((resolve) => setTimeout(resolve, 800));
      assert.ok(warm.stats.failed >= 2 && warm.stats.failed <= 4, `${warm.stats.failed} failed connects in 0.8 s`);
    } finally {
      warm.close();
    }
  });

  it('through a proxy no socket is kept: each handshake gets its own CONNECT tunnel', async () => {
    let tunnels = 0;
    const proxied: Socket[] = [];
    const proxy = createHttpServer();
    proxy.on('connect', (req, client: Socket) => {
      tunnels++;
      proxied.push(client);
      const [host, port] = req.url!.split(':');
      const upstream = connect({ host, port: Number(port) }, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.pipe(client).pipe(upstream);
      });
      proxied.push(upstream);
      for (const s of [client, upstream]) s.on('error', () => undefined);
    });
    proxy.listen(0, '127.0.0.1');
    await once(proxy, 'listening');
    const policy = ProxyPolicy.from(`http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, { env: {} });
    const warm = new WarmSockets({ perHost: 2 });
    try {
      for (let i = 0; i < 3; i++) {
        const opened = await openWebSocket(`ws://127.0.0.1:${plain.port}/p${i}`, { timeoutMs: 5000, warm, proxy: policy });
        assert.equal(opened.preconnected, false);
        opened.socket.destroy();
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(tunnels, 3, 'one CONNECT per handshake');
      assert.deepEqual([warm.stats.opened, warm.readyCount({ host: '127.0.0.1', port: plain.port, secure: false })], [0, 0], 'nothing opened ahead');
    } finally {
      warm.close();
      proxy.close();
      for (const socket of proxied) socket.destroy();
    }
  });
});
