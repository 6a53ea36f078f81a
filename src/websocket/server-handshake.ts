import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { sanitizeReasonPhrase } from '../protocol/http-headers.js';
import { computeAcceptKey, isValidWebSocketKey } from '../protocol/websocket-handshake.js';
import { clearTimer } from '../util/clear-timer.js';

/** Why an upgrade request cannot be answered with a 101: a reason for the 400, and headers it must carry. */
export interface UpgradeProblem {
  reason: string;
  headers?: Record<string, string>;
}

/** Checks that an upgrade request is a WebSocket handshake we can answer; returns a problem or undefined. */
export function checkUpgradeRequest(req: IncomingMessage): UpgradeProblem | undefined {
  if (req.method !== 'GET') return { reason: 'WebSocket handshake must use GET' };
  if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') return { reason: 'Upgrade header must be "websocket"' };
  // RFC 6455 §4.4: the refusal of an unsupported version names the versions the server speaks.
  if (req.headers['sec-websocket-version'] !== '13') return { reason: 'Sec-WebSocket-Version must be 13', headers: { 'Sec-WebSocket-Version': '13' } };
  if (!isValidWebSocketKey(req.headers['sec-websocket-key'])) return { reason: 'Sec-WebSocket-Key is missing or malformed' };
  return undefined;
}

/** Writes the 101 response. Extensions are never negotiated, so frames pass through unchanged. */
export function acceptUpgrade(req: IncomingMessage, socket: Duplex, protocol?: string, extraHeaders: Record<string, string> = {}): void {
  const key = req.headers['sec-websocket-key'] as string;
  const lines = ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${computeAcceptKey(key)}`];
  if (protocol) lines.push(`Sec-WebSocket-Protocol: ${protocol}`);
  for (const [name, value] of Object.entries(extraHeaders)) lines.push(`${name}: ${value}`);
  socket.write(lines.join('\r\n') + '\r\n\r\n');
}

export interface RejectOptions {
  body?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

/**
 * Answers an upgrade request with an HTTP error and closes the socket. The reason phrase carries
 * the description, as Azure Relay does, so clients can show it.
 */
export function rejectUpgrade(socket: Duplex, status: number, reason: string, options: RejectOptions = {}): void {
  if (socket.destroyed) return;
  const body = options.body ?? '';
  const lines = [
    `HTTP/1.1 ${status} ${sanitizeReasonPhrase(reason) || 'Error'}`,
    'Connection: close',
    `Content-Type: ${options.contentType ?? 'text/plain; charset=utf-8'}`,
    `Content-Length: ${Buffer.byteLength(body)}`,
  ];
  for (const [name, value] of Object.entries(options.headers ?? {})) lines.push(`${name}: ${value}`);
  socket.end(lines.join('\r\n') + '\r\n\r\n' + body);
  // A client that never reads its response must not keep the socket forever.
  const timer = setTimeout(() => socket.destroy(), 5000);
  timer.unref();
  socket.once('close', () => clearTimer(timer));
}
