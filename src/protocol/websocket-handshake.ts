import { createHash, randomBytes } from 'node:crypto';

const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** The Sec-WebSocket-Accept value for a client's Sec-WebSocket-Key (RFC 6455 §4.2.2). */
export function computeAcceptKey(key: string): string {
  return createHash('sha1').update(key + WEBSOCKET_GUID).digest('base64');
}

export function generateWebSocketKey(): string {
  return randomBytes(16).toString('base64');
}

/**
 * A key is 16 bytes in base64. Old clients (ws 1.1.x used by hyco-ws) derive it from the clock,
 * so only the shape is checked, never the randomness.
 */
export function isValidWebSocketKey(key: string | undefined): key is string {
  if (!key || key.length !== 24) return false;
  return /^[A-Za-z0-9+/]{22}==$/.test(key);
}

/** Splits a Sec-WebSocket-Protocol header value into its tokens. */
export function parseProtocolList(value: string | undefined): string[] {
  if (!value) return [];
  return value
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
}

/** RFC 7230 token characters, which sub-protocol names must use. */
export function isToken(value: string): boolean {
  return /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(value);
}
