import assert from 'node:assert/strict';
import { once } from 'node:events';
import net, { type AddressInfo, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { encodeFrameHeader, Opcode } from '../../src/protocol/websocket-frame.js';
import { computeAcceptKey } from '../../src/protocol/websocket-handshake.js';
import { openWebSocket, WebSocketHandshakeError, WebSocketTimeoutError } from '../../src/websocket/client-handshake.js';
import { withTimeout } from '../helpers/async.js';
import { patternBytes, sha256 } from '../helpers/data.js';

interface Request {
  line: string;
  headers: Map<string, string>;
}

/** A TCP server that reads one request head and then lets the test answer byte by byte. */
async function scriptedServer(host: string, answer: (socket: Socket, request: Request) => unknown) {
  const requests: Request[] = [];
  const closed: Promise<void>[] = [];
  const sockets = new Set<Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    closed.push(new Promise<void>((resolve) => socket.once('close', () => resolve())));
    let buffered = '';
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      const [line, ...rest] = buffered.slice(0, end).split('\r\n');
      const request = { line: line!, headers: new Map(rest.map((h) => [h.slice(0, h.indexOf(':')).toLowerCase(), h.slice(h.indexOf(':') + 1).trim()])) };
      requests.push(request);
      void answer(socket, request);
    };
    socket.on('data', onData);
  });
  server.listen(0, host);
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const close = () => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { port, requests, closed, close };
}

function accepted(request: Request): string {
  return `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${computeAcceptKey(request.headers.get('sec-websocket-key')!)}\r\n\r\n`;
}

/** Writes `bytes` in pieces of `size`, each in its own TCP segment. */
async function trickle(socket: Socket, bytes: Buffer, size: number): Promise<void> {
  socket.setNoDelay(true);
  for (let i = 0; i < bytes.length; i += size) {
    socket.write(bytes.subarray(i, i + size));
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

const servers: { close(): Promise<void> }[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

describe('WebSocket client handshake (own HTTP/1.1 head reader)', () => {
  it('skips an interim answer, reads a 101 split into 7-byte pieces, and keeps every byte that follows it', async () => {
    const payload = patternBytes(200_000, 3);
    const frame = Buffer.concat([encodeFrameHeader(true, Opcode.Binary, payload.length), payload]);
    const server = await scriptedServer('127.0.0.1', async (socket, request) => {
      const head = Buffer.from(`HTTP/1.1 100 Continue\r\n\r\n${accepted(request)}`, 'latin1');
      await trickle(socket, head.subarray(0, head.length - 5), 7);
      // The first 300 frame bytes travel with the end of the head; the rest comes after the client has the socket.
      socket.write(Buffer.concat([head.subarray(head.length - 5), frame.subarray(0, 300)]));
      await new Promise((resolve) => setTimeout(resolve, 50));
      socket.end(frame.subarray(300));
    });
    servers.push(server);
    const opened = await openWebSocket(`ws://127.0.0.1:${server.port}/$hc/a?x=1`, { timeoutMs: 10_000, headers: { 'X-Extra': 'yes' }, protocols: ['p1'] });
    const request = server.requests[0]!;
    assert.equal(request.line, 'GET /$hc/a?x=1 HTTP/1.1');
    assert.equal(request.headers.get('host'), `127.0.0.1:${server.port}`);
    assert.equal(request.headers.get('x-extra'), 'yes');
    assert.equal(request.headers.get('sec-websocket-protocol'), 'p1');
    assert.equal(request.headers.get('upgrade'), 'websocket');
    assert.equal(opened.head.length, 300);
    // The socket is handed over without a reader: nothing may be lost before one attaches.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const rest: Buffer[] = [opened.head];
    opened.socket.on('data', (chunk: Buffer) => rest.push(chunk));
    await withTimeout(once(opened.socket, 'end'), 10_000, 'end of the frame');
    const got = Buffer.concat(rest);
    assert.equal(got.length, frame.length);
    assert.equal(sha256(got), sha256(frame));
    opened.socket.destroy();
  });

  it('sends a bracketed Host for an IPv6 literal', async () => {
    const server = await scriptedServer('::1', (socket, request) => socket.write(accepted(request)));
    servers.push(server);
    const opened = await openWebSocket(`ws://[::1]:${server.port}/`, { timeoutMs: 10_000 });
    assert.equal(server.requests[0]!.headers.get('host'), `[::1]:${server.port}`);
    opened.socket.destroy();
  });

  it('refuses a 101 with the wrong accept key or without the upgrade token', async () => {
    const wrongKey = await scriptedServer('127.0.0.1', (socket) => socket.write('HTTP/1.1 101 Switching\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: bm9wZQ==\r\n\r\n'));
    const noUpgrade = await scriptedServer('127.0.0.1', (socket, request) => socket.write(accepted(request).replace('Upgrade: websocket\r\n', '')));
    servers.push(wrongKey, noUpgrade);
    await assert.rejects(openWebSocket(`ws://127.0.0.1:${wrongKey.port}/`, { timeoutMs: 10_000 }), /invalid Sec-WebSocket-Accept/);
    await assert.rejects(openWebSocket(`ws://127.0.0.1:${noUpgrade.port}/`, { timeoutMs: 10_000 }), /without "Upgrade: websocket"/);
  });

  it('turns a refusal with a chunked body into a WebSocketHandshakeError with status, reason, body and headers', async () => {
    const body = JSON.stringify({ error: { code: 401, message: 'InvalidSignature: The token has an invalid signature.' } });
    const server = await scriptedServer('127.0.0.1', async (socket) => {
      const chunked = `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
      // The connection stays open: the client must stop at the last chunk, not wait for the end.
      await trickle(socket, Buffer.from(`HTTP/1.1 401 40100: Unauthorized\r\nTransfer-Encoding: chunked\r\nX-Tracking: t1\r\n\r\n${chunked}`, 'latin1'), 11);
    });
    servers.push(server);
    await assert.rejects(openWebSocket(`ws://127.0.0.1:${server.port}/`, { timeoutMs: 10_000 }), (err: unknown) => {
      assert.ok(err instanceof WebSocketHandshakeError);
      assert.equal(err.statusCode, 401);
      assert.equal(err.statusMessage, '40100: Unauthorized');
      assert.equal(err.body, body);
      assert.equal(err.headers['x-tracking'], 't1');
      return true;
    });
  });

  it('keeps at most 4 KiB of a long refusal body and takes one without framing up to the end of the connection', async () => {
    const long = await scriptedServer('127.0.0.1', (socket) => socket.write(`HTTP/1.1 503 Busy\r\nContent-Length: 100000\r\n\r\n${'b'.repeat(100_000)}`));
    const unframed = await scriptedServer('127.0.0.1', (socket) => socket.end('HTTP/1.1 502 Bad Gateway\r\n\r\nlistener failed'));
    servers.push(long, unframed);
    await assert.rejects(openWebSocket(`ws://127.0.0.1:${long.port}/`, { timeoutMs: 10_000 }), (err: unknown) => {
      assert.ok(err instanceof WebSocketHandshakeError);
      assert.equal(err.body, 'b'.repeat(4096));
      return true;
    });
    await assert.rejects(openWebSocket(`ws://127.0.0.1:${unframed.port}/`, { timeoutMs: 10_000 }), (err: unknown) => {
      assert.ok(err instanceof WebSocketHandshakeError);
      assert.equal(err.statusCode, 502);
      assert.equal(err.body, 'listener failed');
      return true;
    });
  });

  it('reports a server that closes without answering as a reset, and one that answers garbage as such', async () => {
    const silent = await scriptedServer('127.0.0.1', (socket) => socket.end());
    const garbage = await scriptedServer('127.0.0.1', (socket) => socket.write('SSH-2.0-OpenSSH_9.2\r\n\r\n'));
    servers.push(silent, garbage);
    await assert.rejects(openWebSocket(`ws://127.0.0.1:${silent.port}/`, { timeoutMs: 10_000 }), (err: NodeJS.ErrnoException) => {
      assert.equal(err.code, 'ECONNRESET');
      assert.match(err.message, /closed the connection before answering/);
      return true;
    });
    await assert.rejects(openWebSocket(`ws://127.0.0.1:${garbage.port}/`, { timeoutMs: 10_000 }), /not an HTTP\/1.1 response/);
    await withTimeout(Promise.all(garbage.closed), 5000, 'the client closes a connection it gave up on');
  });

  it('gives up after the timeout or on abort, closing its connection', async () => {
    const mute = await scriptedServer('127.0.0.1', () => undefined);
    servers.push(mute);
    await assert.rejects(openWebSocket(`ws://127.0.0.1:${mute.port}/`, { timeoutMs: 200 }), WebSocketTimeoutError);
    const abort = new AbortController();
    const pending = openWebSocket(`ws://127.0.0.1:${mute.port}/`, { timeoutMs: 10_000, signal: abort.signal });
    setTimeout(() => abort.abort(new Error('client went away')), 100);
    await assert.rejects(pending, /client went away/);
    await withTimeout(Promise.all(mute.closed), 5000, 'both connections closed');
    assert.equal(mute.closed.length, 2);
  });

  it('refuses a header that would split the request before connecting', async () => {
    const server = await scriptedServer('127.0.0.1', () => undefined);
    servers.push(server);
    await assert.rejects(openWebSocket(`ws://127.0.0.1:${server.port}/`, { headers: { ServiceBusAuthorization: 'token\r\nX-Injected: 1' } }), /characters a header cannot carry/);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(server.closed.length, 0);
  });
});
