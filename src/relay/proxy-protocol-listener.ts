import type { Server } from 'node:http';
import net, { type Socket } from 'node:net';
import type { ClientAddresses } from './client-address.js';
import type { RelayLimits } from './limits.js';
import type { LogLimiter } from './log-limiter.js';
import { parseProxyHeader, PROXY_V2_MAX_BYTES, type ProxyHeader } from './proxy-protocol.js';
import { clearTimer } from '../util/clear-timer.js';

export interface ProxyProtocolListenerOptions {
  /** How long a connection may take to send its whole header; then it is destroyed. */
  headerTimeoutMs: number;
  /** Connections allowed to be waiting for their header at once; more are destroyed at once. */
  maxPending: number;
  /** A connection whose header arrived: its bytes after the header are unread, ready for the server. */
  onConnection(socket: Socket, header: ProxyHeader): void;
  /** A connection destroyed without a valid header (malformed, too slow, too many waiting). */
  onRefused(socket: Socket, reason: string): void;
}

/**
 * A TCP server whose connections must begin with a PROXY protocol header (v1 or v2). The header is
 * read before anything else, TLS included, with bounded size (that of the largest header accepted)
 * and time; then the socket is handed on with the bytes after the header put back.
 */
export interface ProxyProtocolListener {
  server: net.Server;
  /** Destroys the connections still waiting for their header (at shutdown; the others belong to the HTTP server). */
  destroyWaiting(): void;
}

export function createProxyProtocolListener(options: ProxyProtocolListenerOptions): ProxyProtocolListener {
  const waiting = new Set<Socket>();
  const server = net.createServer((socket) => {
    if (waiting.size >= options.maxPending) {
      options.onRefused(socket, 'too many connections waiting for their PROXY protocol header');
      socket.destroy();
      return;
    }
    waiting.add(socket);
    let received: Buffer = Buffer.alloc(0);
    let settled = false;
    const settle = () => {
      settled = true;
      waiting.delete(socket);
      clearTimer(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onError);
    };
    const refuse = (reason: string) => {
      if (settled) return;
      settle();
      options.onRefused(socket, reason);
      socket.destroy();
    };
    const onData = (chunk: Buffer) => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      const result = parseProxyHeader(received);
      if (result.state === 'incomplete') {
        // The parser refuses anything longer than the largest header; this is a second fence.
        if (received.length > PROXY_V2_MAX_BYTES) refuse('PROXY protocol header too long');
        return;
      }
      if (result.state === 'invalid') return refuse(result.reason);
      settle();
      socket.pause();
      const rest = received.subarray(result.length);
      if (rest.length > 0) socket.unshift(rest);
      options.onConnection(socket, result.header);
      // pause() stopped the flow, and a new 'data' listener does not restart a stream paused on
      // purpose: the HTTP server reads through 'data', so resume for it. A TLS server takes the
      // socket's handle and reads the put-back bytes itself; its socket has no 'data' listener.
      if (!socket.destroyed && socket.listenerCount('data') > 0) socket.resume();
    };
    const onClose = () => {
      if (!settled) settle();
    };
    const onError = () => socket.destroy();
    const timer = setTimeout(() => refuse(`no complete PROXY protocol header within ${options.headerTimeoutMs} ms`), options.headerTimeoutMs);
    timer.unref();
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.on('error', onError);
  });
  return {
    server,
    destroyWaiting: () => {
      for (const socket of waiting) socket.destroy();
    },
  };
}

/** The longest a connection may take to send its PROXY protocol header (or --header-timeout if shorter). */
const PROXY_HEADER_TIMEOUT_MS = 3000;

/**
 * The relay's listening socket with `--proxy-protocol`: reads each connection's header, records
 * its client in `clients`, then hands the connection to the HTTP(S) server `http` (which starts
 * TLS after the header when it is an HTTPS server).
 */
export function proxyProtocolFront(http: Server, clients: ClientAddresses, limits: Pick<RelayLimits, 'headerTimeoutMs' | 'maxSockets'>, lines: LogLimiter): ProxyProtocolListener {
  return createProxyProtocolListener({
    headerTimeoutMs: Math.min(PROXY_HEADER_TIMEOUT_MS, limits.headerTimeoutMs),
    maxPending: limits.maxSockets,
    onConnection: (socket, header) => {
      clients.setProxied(socket, header);
      http.emit('connection', socket);
    },
    onRefused: (socket, reason) => lines.warn({ remote: socket.remoteAddress, reason }, 'connection refused: no valid PROXY protocol header (--proxy-protocol)'),
  });
}
