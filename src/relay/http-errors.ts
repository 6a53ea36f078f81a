import type { ServerResponse } from 'node:http';
import { sanitizeReasonPhrase } from '../protocol/http-headers.js';
import { clearTimer } from '../util/clear-timer.js';

/**
 * A request answered before its body arrived (a refusal) may finish sending that body for this
 * long, so that a client in mid-upload reads its answer instead of a reset; a body trickled for
 * longer does not keep the connection.
 */
export const UNREAD_BODY_LINGER_MS = 5000;

/** An error answered by the relay itself, shaped as Azure Relay's: `{"error":{"code","message"}}`. */
export function sendRelayError(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.writableEnded) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error: { code, message } });
  res.writeHead(status, sanitizeReasonPhrase(message), {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
  boundUnreadBody(res);
}

/** Closes the connection when the request's body is still not complete after the linger time. */
export function boundUnreadBody(res: ServerResponse): void {
  const req = res.req as ServerResponse['req'] | undefined;
  if (!req || req.complete) return;
  const socket = req.socket;
  const timer = setTimeout(() => {
    if (!req.complete) socket.destroy();
  }, UNREAD_BODY_LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimer(timer));
}
