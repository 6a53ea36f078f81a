/**
 * The bench's target process: what the tunnels forward to. Modes:
 *   echo  TCP; echoes every byte, ends after the client ends (half-close kept).
 *   bulk  TCP; first byte 'U', 'V' or 'D' and an 8-byte length: 'U'/'V' read that many bytes and
 *         answer their SHA-256 / whether they equal the pattern stream; 'D' sends that many bytes
 *         of the pattern stream.
 *   http  GET /small (128 bytes) and GET /large (1.5 MB), keep-alive.
 *   udp   echoes each datagram to its sender.
 * Usage: node target.js <mode> [HOST]. Listens on HOST (default 127.0.0.1); prints
 * {"ready":true,"port":N} and, on SIGTERM, a stats line.
 */
import { createSocket } from 'node:dgram';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { ChunkWriter, patternBlock } from './pattern.js';
import { CompareCheck, Sha256Check, type StreamCheck } from './verify.js';
import { HTTP_LARGE_BYTES, HTTP_SMALL_BYTES, httpBody } from './http-bodies.js';

const HOST = process.argv[3] ?? '127.0.0.1';
const stats = { connections: 0, errors: 0, protocolErrors: 0 };

function countErrors(socket: Socket): void {
  socket.on('error', () => stats.errors++);
}

function echoServer(): Server {
  return createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    stats.connections++;
    countErrors(socket);
    socket.pipe(socket);
  });
}

function bulkServer(): Server {
  return createServer({ allowHalfOpen: true }, (socket) => {
    stats.connections++;
    countErrors(socket);
    let header = Buffer.alloc(0);
    const onHeader = (chunk: Buffer) => {
      header = Buffer.concat([header, chunk]);
      if (header.length < 9) return;
      socket.off('data', onHeader);
      const command = String.fromCharCode(header[0]!);
      const length = Number(header.readBigUInt64BE(1));
      const rest = header.subarray(9);
      if (command === 'U' || command === 'V') receive(socket, command, length, rest);
      else if (command === 'D') void send(socket, length);
      else {
        stats.protocolErrors++;
        socket.destroy();
      }
    };
    socket.on('data', onHeader);
    socket.on('end', () => socket.end());
  });
}

/**
 * Reads `length` bytes. 'U': answers their 32-byte SHA-256. 'V': compares them with the pattern
 * stream and answers 32 bytes: 1 (all matched) or 0, then the byte count (8 bytes), then zeros.
 */
function receive(socket: Socket, command: 'U' | 'V', length: number, first: Buffer): void {
  const check: StreamCheck = command === 'U' ? new Sha256Check('') : new CompareCheck(length);
  const answer = () => {
    if (command === 'U') return Buffer.from(check.finish().sha256 ?? '', 'hex');
    const reply = Buffer.alloc(32);
    reply[0] = check.finish().matched ? 1 : 0;
    reply.writeBigUInt64BE(BigInt(check.bytes), 1);
    return reply;
  };
  const take = (chunk: Buffer) => {
    if (check.bytes + chunk.length > length) stats.protocolErrors++;
    check.update(chunk);
    if (check.bytes >= length) {
      socket.off('data', take);
      socket.write(answer());
    }
  };
  if (length === 0) {
    socket.write(answer());
    return;
  }
  socket.on('data', take);
  if (first.length > 0) take(first);
}

async function send(socket: Socket, length: number): Promise<void> {
  const chunks = new ChunkWriter();
  let index = 0;
  let sent = 0;
  while (sent < length && !socket.destroyed) {
    const size = Math.min(1024 * 1024, length - sent);
    const ok = socket.write(chunks.next(index++, size)); // reused: wait for 'drain' before the next
    sent += size;
    if (!ok) await new Promise<void>((resolve) => {
      const done = () => {
        socket.off('drain', done);
        socket.off('close', done);
        resolve();
      };
      socket.on('drain', done);
      socket.on('close', done);
    });
  }
}

function httpServer() {
  const small = httpBody(HTTP_SMALL_BYTES);
  const large = httpBody(HTTP_LARGE_BYTES);
  const server = createHttpServer((req, res) => {
    stats.connections++;
    const body = req.url?.endsWith('/large') ? large : req.url?.endsWith('/small') ? small : undefined;
    req.resume();
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
    res.end(body);
  });
  server.keepAliveTimeout = 60_000;
  return server;
}

function listen(server: Server | ReturnType<typeof httpServer>): void {
  server.listen({ host: HOST, port: 0, backlog: 4096 }, () => {
    const { port } = server.address() as AddressInfo;
    ready(port);
  });
}

function ready(port: number): void {
  process.stdout.write(`${JSON.stringify({ ready: true, port, pid: process.pid })}\n`);
}

function udpEcho(): void {
  const socket = createSocket('udp4');
  socket.on('message', (msg, rinfo) => {
    stats.connections++;
    socket.send(msg, rinfo.port, rinfo.address);
  });
  socket.on('error', () => stats.errors++);
  socket.bind(0, HOST, () => {
    socket.setRecvBufferSize(4 * 1024 * 1024);
    socket.setSendBufferSize(4 * 1024 * 1024);
    ready(socket.address().port);
  });
}

const mode = process.argv[2];
if (mode === 'echo') listen(echoServer());
else if (mode === 'bulk') {
  patternBlock(); // derived once before listening, not while the first upload waits for its check
  listen(bulkServer());
}
else if (mode === 'http') listen(httpServer());
else if (mode === 'udp') udpEcho();
else {
  process.stderr.write('usage: target.js echo|bulk|http|udp\n');
  process.exit(2);
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    process.stdout.write(`${JSON.stringify({ stats })}\n`);
    process.exit(0);
  });
}
