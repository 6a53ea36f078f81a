/**
 * A TCP connection to a destination through a proxy: connect to the proxy, then HTTP CONNECT or
 * SOCKS5 CONNECT. What comes back is a plain socket whose bytes go to the destination; TLS to the
 * destination, when wanted, is the caller's (so it runs end to end, and the proxy sees only the
 * destination's name and port).
 *
 * Why our own client and not the `proxy-agent` family: hybridge's WebSocket client writes its
 * handshake on a raw socket, not through an http.Agent, and the two handshakes take a page of code
 * on Node's built-ins; errors here name the proxy and say whether a retry can help.
 */
import net, { type Socket } from 'node:net';
import { httpConnect } from './http-connect.js';
import { ProxyError } from './proxy-error.js';
import type { ProxyServer } from './proxy-url.js';
import { ConnectionEndedError } from './read-message.js';
import { socks5Connect } from './socks5-connect.js';
import { clearTimer } from '../util/clear-timer.js';

export interface TunnelOptions {
  /** For the connection to the proxy and its answer together; default 30 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

const DEFAULT_TIMEOUT_MS = 30_000;

export function openTunnel(proxy: ProxyServer, host: string, port: number, options: TunnelOptions = {}): Promise<Socket> {
  const target = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) return reject(abortReason(options.signal));
    const socket = net.connect({ host: proxy.host, port: proxy.port });
    let connected = false;
    let settled = false;
    const finish = (error: Error | undefined) => {
      if (settled) return;
      settled = true;
      clearTimer(timer);
      options.signal?.removeEventListener('abort', onAbort);
      socket.off('error', onError);
      if (!error) {
        // Until the caller's own listener is on, an error must not go unhandled.
        socket.on('error', () => undefined);
        return resolve(socket);
      }
      socket.destroy();
      reject(error);
    };
    const onError = (err: Error) => finish(describe(err, proxy, target, connected));
    const onAbort = () => finish(abortReason(options.signal!));
    const timer = setTimeout(() => {
      // An HTTP proxy waits for a request line that a SOCKS5 greeting never ends.
      const hint = proxy.kind === 'socks5' ? ' (an HTTP proxy stays silent like this; if it is one, write http://)' : '';
      const what = connected ? `proxy ${proxy.label} did not open the tunnel to ${target} within ${seconds(timeoutMs)}${hint}` : `cannot reach proxy ${proxy.label} (no connection within ${seconds(timeoutMs)})`;
      finish(new ProxyError(proxy.label, 'timeout', what));
    }, timeoutMs);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    socket.setNoDelay(true);
    socket.on('error', onError);
    socket.once('connect', () => {
      connected = true;
      const handshake = proxy.kind === 'http' ? httpConnect(socket, proxy, target) : socks5Connect(socket, proxy, host, port);
      handshake.then(() => finish(undefined), (err: Error) => finish(describe(err, proxy, target, true)));
    });
  });
}

function describe(err: Error, proxy: ProxyServer, target: string, connected: boolean): Error {
  if (err instanceof ProxyError || err.name === 'ProxySettingsError') return err;
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (err instanceof ConnectionEndedError || (connected && (code === 'ECONNRESET' || code === 'EPIPE'))) {
    // A SOCKS5 proxy hangs up on the bytes of an HTTP request.
    const hint = proxy.kind === 'http' ? ' (a SOCKS5 proxy does this; if it is one, write socks5://)' : '';
    return new ProxyError(proxy.label, 'closed', `proxy ${proxy.label} closed the connection before the tunnel to ${target} was open${hint}`);
  }
  if (connected) return new ProxyError(proxy.label, 'protocol', `proxy ${proxy.label} failed while opening the tunnel to ${target} (${err.message})`);
  return new ProxyError(proxy.label, 'unreachable', `cannot reach proxy ${proxy.label} (${UNREACHABLE[code] ?? (code || err.message)})`);
}

const UNREACHABLE: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'no route to host',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'connection timed out',
};

function seconds(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`;
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('aborted');
}
