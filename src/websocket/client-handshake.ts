import type { IncomingHttpHeaders } from 'node:http';
import net, { type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { BodyCollector, encodeRequestHead, parseResponseHead, type ResponseHead } from '../protocol/http-message-head.js';
import { computeAcceptKey, generateWebSocketKey } from '../protocol/websocket-handshake.js';
import { openTunnel } from '../proxy/open-tunnel.js';
import type { ProxyPolicy } from '../proxy/proxy-policy.js';
import { WsConnection, type ConnectionOptions } from './connection.js';
import { raceConnect, type RacingConnect } from './racing-connect.js';
import { connectTls, type TlsClientOptions } from './tls-connect.js';
import type { WarmSockets } from './warm-sockets.js';
import { clearTimer } from '../util/clear-timer.js';

export type { TlsClientOptions } from './tls-connect.js';

export interface OpenWebSocketOptions {
  headers?: Record<string, string>;
  protocols?: string[];
  /** Covers TCP connect, TLS and the HTTP upgrade (the relay holds the upgrade until the listener accepts). */
  timeoutMs?: number;
  signal?: AbortSignal;
  tls?: TlsClientOptions;
  /** Which connections go through a proxy (default: none; the client library resolves it from its options and the environment). */
  proxy?: ProxyPolicy;
  /**
   * Start a fresh TCP attempt every this many ms while none has connected (racing-connect.ts),
   * instead of waiting out the kernel's SYN back-off after a network cut. Off by default; not
   * used through a proxy (the proxy makes the connection).
   */
  connectRetryMs?: number;
  /** Source address and address family of the TCP connection (-H targets: `-b`, `AddressFamily`); not used through a proxy. */
  localAddress?: string;
  family?: 4 | 6;
  /**
   * Pre-connected sockets to take the connection from (warm-sockets.ts); not used through a proxy
   * or with a source address. A taken socket that fails before the server answered a byte is
   * replaced by a new connection.
   */
  warm?: WarmSockets;
}

/** How a client reaches a relay: TLS trust and proxy. */
export type RelayTransport = Pick<OpenWebSocketOptions, 'tls' | 'proxy'>;

export interface OpenedWebSocket {
  socket: Socket;
  head: Buffer;
  protocol: string | undefined;
  headers: IncomingHttpHeaders;
  /**
   * True when no third party can read the frames on this connection (TLS, or a loopback peer that is not a proxy), so
   * client masking protects nothing and an all-zero key may be used (RFC 6455 §10.3: masking defends
   * intermediaries that interpret the cleartext bytes). HYBRIDGE_WS_MASK=always turns this off.
   */
  maskingOptional: boolean;
  /** The connection came from the pre-connected pool (its TCP and TLS set-up were paid before). */
  preconnected: boolean;
  /** On TLS: the session was resumed from an earlier connection's ticket. */
  tlsSessionReused: boolean | undefined;
}

/** The server answered the upgrade with an HTTP status instead of 101. */
export class WebSocketHandshakeError extends Error {
  constructor(
    readonly statusCode: number,
    readonly statusMessage: string,
    readonly body: string,
    readonly headers: IncomingHttpHeaders,
  ) {
    super(`${statusCode} ${statusMessage}`.trim());
    this.name = 'WebSocketHandshakeError';
  }
}

export class WebSocketTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebSocketTimeoutError';
  }
}

const MAX_ERROR_BODY = 4096;

/**
 * Performs a client WebSocket handshake and hands back the raw socket for a WsConnection. The
 * request and response heads are written and read here rather than through node:http, which costs
 * noticeably more CPU per upgrade (see http-message-head.ts).
 */
export function openWebSocket(address: string, options: OpenWebSocketOptions = {}): Promise<OpenedWebSocket> {
  return new Promise((resolve, reject) => {
    const url = new URL(address);
    const secure = url.protocol === 'wss:' || url.protocol === 'https:';
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const port = url.port ? Number(url.port) : secure ? 443 : 80;
    const key = generateWebSocketKey();
    const headers: Record<string, string> = {
      Host: url.host,
      ...options.headers,
      Connection: 'Upgrade',
      Upgrade: 'websocket',
      'Sec-WebSocket-Version': '13',
      'Sec-WebSocket-Key': key,
    };
    if (options.protocols && options.protocols.length > 0) headers['Sec-WebSocket-Protocol'] = options.protocols.join(', ');
    let request: Buffer;
    try {
      request = encodeRequestHead('GET', `${url.pathname}${url.search}`, headers);
    } catch (err) {
      return reject(err);
    }
    if (options.signal?.aborted) return reject(abortReason(options.signal));

    const proxy = options.proxy?.route(host, port, secure);
    const started = Date.now();
    let socket: Socket | undefined;
    let tunnel: AbortController | undefined;
    let race: RacingConnect | undefined;
    let settled = false;
    let preconnected = false;
    let received: Buffer = Buffer.alloc(0);
    let response: ResponseHead | undefined;
    let body: BodyCollector | undefined;
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => fail(abortReason(options.signal!));
    options.signal?.addEventListener('abort', onAbort, { once: true });

    if (proxy) {
      // The tunnel's own timeout says whether the proxy or the path behind it was slow; the rest
      // of the budget is the handshake's.
      tunnel = new AbortController();
      openTunnel(proxy, host, port, { timeoutMs: options.timeoutMs, signal: tunnel.signal }).then(
        (raw) => (settled ? raw.destroy() : begin(secure ? connectTls(host, port, options.tls, raw) : raw)),
        (err: Error) => fail(err),
      );
    } else if (options.connectRetryMs && options.connectRetryMs > 0) {
      startTimer();
      race = raceConnect(host, port, options.connectRetryMs);
      race.connected.then(
        (raw) => (settled ? raw.destroy() : begin(secure ? connectTls(host, port, options.tls, raw) : raw)),
        (err: Error) => fail(err),
      );
    } else {
      const bound = options.localAddress !== undefined || options.family !== undefined;
      const warm = bound ? undefined : options.warm?.take({ host, port, secure });
      preconnected = warm !== undefined;
      begin(warm ?? connectDirect());
    }

    function connectDirect(): Socket {
      const raw = net.connect({ host, port, localAddress: options.localAddress, family: options.family });
      return secure ? connectTls(host, port, options.tls, raw) : raw;
    }

    /**
     * A pre-connected socket the server closed just as it was taken (its end crossed our request)
     * is replaced by a new connection: the server never read the request.
     */
    function replaceStale(): boolean {
      if (!preconnected || settled || received.length > 0 || response) return false;
      preconnected = false;
      const stale = socket!;
      stale.off('error', onError);
      stale.off('data', onData);
      stale.off('end', onEnd);
      stale.off('close', onEnd);
      stale.on('error', () => undefined);
      stale.destroy();
      begin(connectDirect());
      return true;
    }

    function startTimer(): void {
      if (!options.timeoutMs || timer) return;
      const left = Math.max(1, options.timeoutMs - (Date.now() - started));
      timer = setTimeout(() => fail(new WebSocketTimeoutError(`no WebSocket handshake from ${url.host} within ${options.timeoutMs} ms`)), left);
    }

    function begin(connection: Socket): void {
      socket = connection;
      startTimer();
      connection.setNoDelay(true);
      connection.on('error', onError);
      connection.on('data', onData);
      connection.on('end', onEnd);
      connection.on('close', onEnd);
      connection.write(request);
    }

    function cleanup(): void {
      settled = true;
      clearTimer(timer);
      options.signal?.removeEventListener('abort', onAbort);
      socket?.off('data', onData);
      socket?.off('end', onEnd);
      socket?.off('close', onEnd);
    }

    function onError(error: Error): void {
      if (!replaceStale()) fail(error);
    }

    function fail(error: Error): void {
      if (settled) return;
      cleanup();
      race?.cancel();
      socket?.destroy();
      tunnel?.abort();
      reject(error);
    }

    function refuse(): void {
      fail(new WebSocketHandshakeError(response!.statusCode, response!.statusMessage, body!.text, response!.headers));
    }

    function onEnd(): void {
      if (body) return refuse();
      if (replaceStale()) return;
      fail(Object.assign(new Error(`${url.host} closed the connection before answering the WebSocket handshake`), { code: 'ECONNRESET' }));
    }

    function onData(chunk: Buffer): void {
      try {
        if (body) {
          if (body.push(chunk)) refuse();
          return;
        }
        received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
        for (;;) {
          response = parseResponseHead(received);
          if (!response) return;
          received = received.subarray(response.length);
          // Interim answers (100 Continue and the like) are skipped; 101 is the one that matters.
          if (response.statusCode >= 200 || response.statusCode === 101) break;
        }
        if (response.statusCode === 101) return upgraded(received);
        body = new BodyCollector(response, MAX_ERROR_BODY);
        if (body.push(received)) refuse();
      } catch (err) {
        fail(err as Error);
      }
    }

    function upgraded(head: Buffer): void {
      const answer = response!.headers;
      if (String(answer.upgrade ?? '').toLowerCase() !== 'websocket') return fail(new Error(`${url.host} answered 101 without "Upgrade: websocket"`));
      if (answer['sec-websocket-accept'] !== computeAcceptKey(key)) return fail(new Error(`invalid Sec-WebSocket-Accept from ${url.host}`));
      const protocol = answer['sec-websocket-protocol'] as string | undefined;
      if (protocol !== undefined && !(options.protocols ?? []).includes(protocol)) {
        return fail(new Error(`server chose sub-protocol "${protocol}", which was not offered`));
      }
      cleanup();
      const upgradedSocket = socket!;
      // Until the new owner attaches its own listeners, an error must not go unhandled (it
      // still sees the socket closed), and nothing is read (as after node:http's upgrade).
      upgradedSocket.off('error', onError);
      upgradedSocket.on('error', () => undefined);
      upgradedSocket.pause();
      // Back to "no reader yet" (what node:http does), so the owner's 'data' listener starts the flow.
      (upgradedSocket as unknown as { readableFlowing: boolean | null }).readableFlowing = null;
      upgradedSocket.setTimeout(0);
      const maskless = maskingOptional(upgradedSocket, secure, proxy !== undefined);
      const tlsSessionReused = secure ? (upgradedSocket as TLSSocket).isSessionReused() : undefined;
      resolve({ socket: upgradedSocket, head, protocol, headers: answer, maskingOptional: maskless, preconnected, tlsSessionReused });
    }
  });
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('aborted');
}

/** The client end of an opened WebSocket, masking as the connection allows (see maskingOptional). */
export function clientConnection(opened: OpenedWebSocket, options: Omit<ConnectionOptions, 'role' | 'zeroMask'> = {}): WsConnection {
  return new WsConnection(opened.socket, { ...options, role: 'client', zeroMask: opened.maskingOptional });
}

function maskingOptional(socket: Socket, secure: boolean, viaProxy: boolean): boolean {
  if (process.env.HYBRIDGE_WS_MASK === 'always') return false;
  if (secure) return true;
  // A proxy on loopback still reads the cleartext and hands it to the network beyond.
  if (viaProxy) return false;
  const peer = socket.remoteAddress ?? '';
  return peer === '::1' || peer.startsWith('127.') || peer.startsWith('::ffff:127.');
}
