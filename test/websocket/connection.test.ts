import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { clientConnection, openWebSocket, WebSocketHandshakeError } from '../../src/websocket/client-handshake.js';
import { WsConnection } from '../../src/websocket/connection.js';
import { acceptUpgrade, checkUpgradeRequest, rejectUpgrade } from '../../src/websocket/server-handshake.js';
import { withTimeout } from '../helpers/async.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { messages } from '../helpers/ws-messages.js';

describe('WsConnection client against the ws server', () => {
  let wss: WebSocketServer;
  let port: number;
  before(async () => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
    wss.on('connection', (ws, req) => {
      if (req.url?.includes('reject')) return ws.close(4000, 'bye');
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
    await once(wss, 'listening');
    port = (wss.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((r) => wss.close(() => r())));

  it('echoes text and binary messages of many sizes intact', async () => {
    const opened = await openWebSocket(`ws://127.0.0.1:${port}/x`, { timeoutMs: 5000 });
    const conn = new WsConnection(opened.socket, { role: 'client' });
    const m = messages(conn, opened.head);
    const sizes = [0, 1, 125, 126, 65535, 65536, 1_000_000, 16 * 1024 * 1024];
    conn.sendText('hello');
    for (const size of sizes) conn.sendBinary(patternBytes(size, size + 3));
    await m.until(() => m.received.length === sizes.length + 1);
    assert.equal(m.received[0]!.binary, false);
    assert.equal(m.received[0]!.data.toString(), 'hello');
    sizes.forEach((size, i) => {
      const got = m.received[i + 1]!;
      assert.equal(got.binary, true);
      assert.equal(got.data.length, size);
      assert.equal(sha256(got.data), sha256(patternBytes(size, size + 3)));
    });
    conn.close(1000, 'done');
    await m.until(() => m.closed.finished);
    assert.equal(m.closed.code, 1000);
  });

  it('masks with the zero key on loopback (the ws server accepts it) and with random keys when HYBRIDGE_WS_MASK=always', async () => {
    const payload = patternBytes(300_000, 9);
    for (const env of [undefined, 'always']) {
      if (env) process.env.HYBRIDGE_WS_MASK = env;
      else delete process.env.HYBRIDGE_WS_MASK;
      try {
        const opened = await openWebSocket(`ws://127.0.0.1:${port}/x`, { timeoutMs: 5000 });
        assert.equal(opened.maskingOptional, env === undefined, `maskingOptional with HYBRIDGE_WS_MASK=${env}`);
        const written: Buffer[] = [];
        const write = opened.socket.write.bind(opened.socket) as (chunk: Buffer, ...rest: unknown[]) => boolean;
        opened.socket.write = ((chunk: Buffer, ...rest: unknown[]) => {
          written.push(Buffer.from(chunk));
          return write(chunk, ...rest);
        }) as typeof opened.socket.write;
        const conn = clientConnection(opened);
        const m = messages(conn, opened.head);
        conn.sendBinary(payload);
        await m.until(() => m.received.length === 1);
        assert.equal(sha256(m.received[0]!.data), sha256(payload), 'echoed intact');
        const header = written[0]!;
        assert.equal(header[1]! & 0x80, 0x80, 'MASK bit set');
        const key = header.subarray(10, 14);
        if (env === undefined) assert.deepEqual([...key], [0, 0, 0, 0]);
        else assert.notEqual(Buffer.concat(written).subarray(14, 14 + 64).compare(payload.subarray(0, 64)), 0, 'payload masked on the wire');
        conn.close(1000, 'done');
        await m.until(() => m.closed.finished);
      } finally {
        delete process.env.HYBRIDGE_WS_MASK;
      }
    }
  });

  it('reports the peer close code and reason', async () => {
    const opened = await openWebSocket(`ws://127.0.0.1:${port}/reject`, { timeoutMs: 5000 });
    const conn = new WsConnection(opened.socket, { role: 'client', autoCloseReply: true });
    const m = messages(conn, opened.head);
    await m.until(() => m.closed.finished);
    assert.equal(m.closed.code, 4000);
    assert.equal(m.closed.reason, 'bye');
  });
});

describe('WsConnection server against the ws client', () => {
  let server: Server;
  let port: number;
  const serverConns: WsConnection[] = [];
  before(async () => {
    server = createServer();
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (req.url === '/deny') return rejectUpgrade(socket, 403, 'Forbidden: no entry');
      const problem = checkUpgradeRequest(req);
      if (problem) return rejectUpgrade(socket, 400, problem.reason, { headers: problem.headers });
      const offered = String(req.headers['sec-websocket-protocol'] ?? '').split(',')[0]?.trim();
      acceptUpgrade(req, socket, offered || undefined);
      const conn = new WsConnection(socket, { role: 'server' });
      serverConns.push(conn);
      conn.attach(
        {
          onMessageStart: (binary) => (mode = binary),
          onMessageData: (c) => parts.push(Buffer.from(c)),
          onMessageEnd: () => {
            const data = Buffer.concat(parts);
            parts = [];
            conn.sendFrame(mode ? 2 : 1, data);
          },
          onPeerClose: () => {
            // Half-close: keep talking after the client's Close, then close our side.
            conn.sendText('after-close');
            conn.close(1000, 'server done');
          },
        },
        head,
      );
      let parts: Buffer[] = [];
      let mode = true;
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  after(() => {
    for (const c of serverConns) c.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });

  it('echoes to a ws client and negotiates the first offered sub-protocol', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, ['chat', 'other'], { perMessageDeflate: false });
    await once(ws, 'open');
    assert.equal(ws.protocol, 'chat');
    const payload = patternBytes(3_000_000, 9);
    const got = new Promise<Buffer>((resolve) => ws.once('message', (d) => resolve(d as Buffer)));
    ws.send(payload);
    const echoed = await withTimeout(got, 10_000, 'echo');
    assert.equal(sha256(echoed), sha256(payload));
    ws.close();
    await withTimeout(once(ws, 'close'), 5000, 'close');
  });

  it('gives the HTTP status and reason of a refused handshake', async () => {
    await assert.rejects(openWebSocket(`ws://127.0.0.1:${port}/deny`, { timeoutMs: 5000 }), (err: unknown) => {
      assert.ok(err instanceof WebSocketHandshakeError);
      assert.equal(err.statusCode, 403);
      assert.equal(err.statusMessage, 'Forbidden: no entry');
      return true;
    });
  });

  it('keeps the server direction open after the client closes its own (half-close)', async () => {
    const opened = await openWebSocket(`ws://127.0.0.1:${port}/`, { timeoutMs: 5000 });
    const conn = new WsConnection(opened.socket, { role: 'client' });
    const m = messages(conn, opened.head);
    conn.sendText('one');
    conn.close(1000, 'Shutdown');
    await m.until(() => m.closed.finished);
    assert.deepEqual(m.received.map((r) => r.data.toString()), ['one', 'after-close']);
    assert.equal(m.closed.code, 1000);
    assert.equal(m.closed.reason, 'server done');
  });
});
