import type { ServerResponse } from 'node:http';
import { sanitizeReasonPhrase } from '../protocol/http-headers.js';

/** An error answered by the relay itself, shaped as Azure Relay's: `{"error":{"code","message"}}`. */
export function sendRelayError(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.writableEnded) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error: { code, message } });
  res.writeHead(status, sanitizeReasonPhrase(message, 200), {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}
