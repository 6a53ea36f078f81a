import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { ConnectionOptions as TlsConnectionOptions, TLSSocket } from 'node:tls';
import { computeAcceptKey, generateWebSocketKey } from '../protocol/websocket-handshake.js';
import { WsConnection, type ConnectionOptions } from './connection.js';
import { clientSecureContext, tlsResumption, type TlsResumption } from './tls-reuse.js';

export interface TlsClientOptions {
  ca?: string | Buffer | Array<string | Buffer>;
  rejectUnauthorized?: boolean;
  servername?: string;
}

export interface OpenWebSocketOptions {
  headers?: Record<string, string>;
  protocols?: string[];
  /** Covers TCP connect, TLS and the HTTP upgrade (the relay holds the upgrade until the listener accepts). */
  timeoutMs?: number;
  signal?: AbortSignal;
  tls?: TlsClientOptions;
}

export interface OpenedWebSocket {
  socket: Socket;
  head: Buffer;
  protocol: string | undefined;
  headers: IncomingHttpHeaders;
  /**
   * True when no third party can read the frames on this connection (TLS, or a loopback peer), so
   * client masking protects nothing and an all-zero key may be used (RFC 6455 §10.3: masking defends
   * intermediaries that interpret the cleartext bytes). HYBRIDGE_WS_MASK=always turns this off.
   */
  maskingOptional: boolean;
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

/** Performs a client WebSocket handshake and hands back the raw socket for a WsConnection. */
export function openWebSocket(address: string, options: OpenWebSocketOptions = {}): Promise<OpenedWebSocket> {
  return new Promise((resolve, reject) => {
    const url = new URL(address);
    const secure = url.protocol === 'wss:' || url.protocol === 'https:';
    const key = generateWebSocketKey();
    const headers: Record<string, string> = {
      ...options.headers,
      Connection: 'Upgrade',
      Upgrade: 'websocket',
      'Sec-WebSocket-Version': '13',
      'Sec-WebSocket-Key': key,
    };
    if (options.protocols && options.protocols.length > 0) headers['Sec-WebSocket-Protocol'] = options.protocols.join(', ');
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const requestOptions: https.RequestOptions & Pick<TlsConnectionOptions, 'secureContext' | 'session'> = {
      host,
      port: url.port ? Number(url.port) : secure ? 443 : 80,
      path: `${url.pathname}${url.search}`,
      method: 'GET',
      headers,
      agent: false,
    };
    let resumption: TlsResumption | undefined;
    if (secure) {
      if (options.tls?.rejectUnauthorized === false) requestOptions.rejectUnauthorized = false;
      requestOptions.servername = options.tls?.servername ?? (isIpLiteral(host) ? undefined : host);
      requestOptions.secureContext = clientSecureContext(options.tls);
      resumption = tlsResumption(requestOptions.secureContext, host, Number(requestOptions.port), requestOptions.servername);
      if (resumption.session) requestOptions.session = resumption.session;
    }
    let settled = false;
    const req = (secure ? https : http).request(requestOptions);
    if (resumption) req.once('socket', (socket) => resumption.remember(socket as TLSSocket));
    const timer = options.timeoutMs ? setTimeout(() => fail(new WebSocketTimeoutError(`no WebSocket handshake from ${url.host} within ${options.timeoutMs} ms`)), options.timeoutMs) : undefined;
    const onAbort = () => fail(options.signal?.reason instanceof Error ? options.signal.reason : new Error('aborted'));
    if (options.signal) {
      if (options.signal.aborted) return onAbort();
      options.signal.addEventListener('abort', onAbort, { once: true });
    }

    function cleanup(): void {
      settled = true;
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    }

    function fail(error: Error): void {
      if (settled) return;
      cleanup();
      req.destroy();
      reject(error);
    }

    req.on('error', (err) => fail(err));
    req.on('upgrade', (res, socket: Socket, head: Buffer) => {
      if (settled) {
        socket.destroy();
        return;
      }
      if (res.headers['sec-websocket-accept'] !== computeAcceptKey(key)) {
        socket.destroy();
        return fail(new Error(`invalid Sec-WebSocket-Accept from ${url.host}`));
      }
      const protocol = res.headers['sec-websocket-protocol'];
      if (protocol !== undefined && !(options.protocols ?? []).includes(protocol)) {
        socket.destroy();
        return fail(new Error(`server chose sub-protocol "${protocol}", which was not offered`));
      }
      cleanup();
      socket.setNoDelay(true);
      socket.setTimeout(0);
      resolve({ socket, head, protocol, headers: res.headers, maskingOptional: maskingOptional(socket, secure) });
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        if (size < MAX_ERROR_BODY) chunks.push(chunk);
        size += chunk.length;
      });
      const done = () => {
        const body = Buffer.concat(chunks).subarray(0, MAX_ERROR_BODY).toString('utf8');
        fail(new WebSocketHandshakeError(res.statusCode ?? 0, res.statusMessage ?? '', body, res.headers));
      };
      res.on('end', done);
      res.on('error', done);
      res.on('close', done);
    });
    req.end();
  });
}

/** The client end of an opened WebSocket, masking as the connection allows (see maskingOptional). */
export function clientConnection(opened: OpenedWebSocket, options: Omit<ConnectionOptions, 'role' | 'zeroMask'> = {}): WsConnection {
  return new WsConnection(opened.socket, { ...options, role: 'client', zeroMask: opened.maskingOptional });
}

function maskingOptional(socket: Socket, secure: boolean): boolean {
  if (process.env.HYBRIDGE_WS_MASK === 'always') return false;
  if (secure) return true;
  const peer = socket.remoteAddress ?? '';
  return peer === '::1' || peer.startsWith('127.') || peer.startsWith('::ffff:127.');
}

function isIpLiteral(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}
