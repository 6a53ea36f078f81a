import type { IncomingMessage } from 'node:http';

const MAX_AGENT_CHARS = 200;

/**
 * The client's `Relay-User-Agent` (the .NET and Java SDKs send it on listen and connect, e.g.
 * `azure-relay-dotnet/2.0.1 (Linux; .NET 8.0)`), else its `User-Agent`, for log lines: printable
 * ASCII only and bounded, since it is the client's text.
 */
export function clientAgent(req: IncomingMessage): string | undefined {
  const raw = req.headers['relay-user-agent'] ?? req.headers['user-agent'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (!value) return undefined;
  const cleaned = value.replace(/[^\x20-\x7e]/g, '?');
  return cleaned.length > MAX_AGENT_CHARS ? `${cleaned.slice(0, MAX_AGENT_CHARS)}...` : cleaned;
}
