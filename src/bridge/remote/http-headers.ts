import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/** RFC 7230 §6.1 hop-by-hop headers: they describe one connection, not the message. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authenticate', 'proxy-authorization']);

function connectionTokens(value: string | string[] | undefined): Set<string> {
  const text = Array.isArray(value) ? value.join(',') : (value ?? '');
  return new Set(text.split(',').map((t) => t.trim().toLowerCase()).filter(Boolean));
}

/**
 * Request headers for the target (reference/azbridge.md §3.5): every header the relay delivered except
 * Host (the target gets its own) and hop-by-hop headers. Authorization and Content-Type pass
 * unchanged; the relay has already removed its own token. `rawHeaders` keeps the sender's spelling.
 */
export function targetRequestHeaders(rawHeaders: readonly string[]): OutgoingHttpHeaders {
  const byName = new Map<string, { name: string; values: string[] }>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const lower = name.toLowerCase();
    const entry = byName.get(lower);
    if (entry) entry.values.push(rawHeaders[i + 1]!);
    else byName.set(lower, { name, values: [rawHeaders[i + 1]!] });
  }
  const dropped = connectionTokens(byName.get('connection')?.values);
  const headers: OutgoingHttpHeaders = {};
  for (const [lower, { name, values }] of byName) {
    if (lower === 'host' || lower === 'content-length' || HOP_BY_HOP.has(lower) || dropped.has(lower)) continue;
    headers[name] = values.length === 1 ? values[0] : values;
  }
  return headers;
}

/** Response headers for the relay: everything but hop-by-hop headers (Transfer-Encoding included). */
export function relayResponseHeaders(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const dropped = connectionTokens(headers.connection);
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || dropped.has(name)) continue;
    out[name] = value;
  }
  return out;
}
