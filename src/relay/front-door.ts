import http, { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { ConnectionGate } from './connection-gate.js';
import type { RelayLimits } from './limits.js';
import { clearTimer } from '../util/clear-timer.js';

export interface FrontDoorOptions {
  tls?: { cert: string | Buffer; key: string | Buffer };
  limits: RelayLimits;
  gate: ConnectionGate;
  onRequest(req: IncomingMessage, res: ServerResponse): void;
  onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void;
}

/** How long a socket refused for a malformed, oversized or late request head may take to read that answer. */
const REFUSAL_LINGER_MS = 1000;

/**
 * The relay's HTTP(S) server with the limits that apply before a request is routed: the socket
 * gate, the head's size and arrival time, idle connections. A socket whose head is refused is
 * answered and destroyed, never only half-closed.
 */
export function createFrontDoor(options: FrontDoorOptions): http.Server {
  const { limits, gate } = options;
  const serverOptions: http.ServerOptions = {
    maxHeaderSize: limits.maxHeaderBytes,
    // Node checks head deadlines on this interval (30 s by default, far longer than the deadline).
    connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(limits.headerTimeoutMs / 4))),
  };
  const server = options.tls
    ? https.createServer({ ...serverOptions, cert: options.tls.cert, key: options.tls.key, handshakeTimeout: limits.handshakeTimeoutMs })
    : http.createServer(serverOptions);
  server.headersTimeout = limits.headerTimeoutMs;
  server.requestTimeout = 0;
  server.keepAliveTimeout = Math.min(30_000, limits.idleTimeoutMs);
  server.timeout = limits.idleTimeoutMs;
  server.on('connection', (socket: Socket) => gate.admit(socket));
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    // WebSockets keep their own liveness (pings); the idle timeout is for HTTP connections.
    socket.setTimeout(0);
    options.onUpgrade(req, socket, head);
  });
  server.on('request', options.onRequest);
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => refuseHead(err, socket));
  return server;
}

function refuseHead(err: NodeJS.ErrnoException, socket: Socket): void {
  if (socket.destroyed) return;
  if (!socket.writable || err.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, () => socket.destroy());
  const timer = setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimer(timer));
}
