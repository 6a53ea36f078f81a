/**
 * RFC 7230 connection-level headers that never cross the relay (protocol reference §2.2), plus
 * the ones Node manages itself.
 */
export const CONNECTION_LEVEL_HEADERS = new Set([
  'connection',
  'content-length',
  'host',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'close',
  'keep-alive',
  'proxy-connection',
]);

export function isConnectionLevelHeader(name: string): boolean {
  return CONNECTION_LEVEL_HEADERS.has(name.toLowerCase());
}

/** Header names and values that could split a message or corrupt the JSON-to-HTTP mapping are refused. */
export function isSafeHeaderName(name: string): boolean {
  return /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name);
}

export function isSafeHeaderValue(value: string): boolean {
  return !/[\r\n\0]/.test(value);
}

/** Reason phrases go on the status line: printable ASCII only, bounded length. */
export function sanitizeReasonPhrase(text: string, max = 480): string {
  const cleaned = text.replace(/[^\x20-\x7e]/g, '?').trim();
  return cleaned.length > max ? cleaned.slice(0, max) : cleaned;
}
