/** The addresses the relay hands out: its own URL, and the base of listeners' rendezvous addresses. */
import type { IncomingMessage } from 'node:http';
import { hostname } from 'node:os';
import { formatHost, parseRelayEndpoint, type RelayEndpoint } from '../protocol/relay-endpoint.js';

/** ws[s]://host:port for the bound address (a wildcard address is advertised as the host name). */
export function boundUrl(host: string, port: number, secure: boolean): string {
  const advertised = isWildcard(host) ? hostname() : host;
  return `${secure ? 'wss' : 'ws'}://${formatHost(advertised)}:${port}`;
}

/**
 * Where a listener's rendezvous addresses point when there is no --public-url: the host it used
 * (its Host header), over wss:// when the client's connection was TLS (here or at a balancer).
 */
export function listenerBaseUrl(req: IncomingMessage, secure: boolean, endpoint: RelayEndpoint): string {
  return `${secure ? 'wss' : 'ws'}://${safeHost(req.headers.host) ?? `${formatHost(endpoint.host)}:${endpoint.port}`}`;
}

/** ws[s]://host:port of a --public-url. */
export function toWebSocketBase(url: string): string {
  const endpoint = parseRelayEndpoint(url);
  return `${endpoint.secure ? 'wss' : 'ws'}://${formatHost(endpoint.host)}:${endpoint.port}`;
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

/** A Host header we are willing to put into rendezvous addresses (host[:port], nothing else). */
function safeHost(host: string | undefined): string | undefined {
  return host && /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(host) ? host : undefined;
}
