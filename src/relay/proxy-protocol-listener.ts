import net, { type Socket } from 'node:net';
import { parseProxyHeader, PROXY_V2_MAX_BYTES, type ProxyHeader } from './proxy-protocol.js';

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
export function createProxyProtocolListener(options: ProxyProtocolListenerOptions): net.Server {
  let pending = 0;
  return net.createServer((socket) => {
    if (pending >= options.maxPending) {
      options.onRefused(socket, 'too many connections waiting for their PROXY protocol header');
      socket.destroy();
      return;
    }
    pending++;
    let received: Buffer = Buffer.alloc(0);
    let settled = false;
    const settle = () => {
      settled = true;
      pending--;
      clearTimeout(timer);
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
      if (!settled) {
        settle();
      }
    };
    const onError = () => socket.destroy();
    const timer = setTimeout(() => refuse(`no complete PROXY protocol header within ${options.headerTimeoutMs} ms`), options.headerTimeoutMs);
    timer.unref();
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.on('error', onError);
  });
}
