/**
 * Relay endpoints and the URLs built on them (protocol reference §1). An endpoint is a namespace
 * host plus whether it speaks TLS; `sb://`, `wss://` and `https://` mean TLS (as Azure), `ws://`
 * and `http://` mean plain TCP (a local hybridge relay).
 */
export interface RelayEndpoint {
  secure: boolean;
  /** Host name or IP address, without brackets. */
  host: string;
  port: number;
  /**
   * A namespace hosted by a hybridge relay and addressed by path (`/$ns/{namespace}`, no trailing
   * slash); every address built on the endpoint starts with it. Absent for Azure and for a relay's
   * default namespace.
   */
  namespacePath?: string;
}

/** `/$ns/{namespace}` (or `/%24ns/...`, with an optional trailing slash): the only path an endpoint may have. */
const NAMESPACE_PATH = /^\/(?:\$|%24)ns\/([A-Za-z][A-Za-z0-9-]{4,48}[A-Za-z0-9])\/?$/i;

export const DEFAULT_RELAY_SUFFIX = '.servicebus.windows.net';

export class EndpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EndpointError';
  }
}

const SECURE_SCHEMES = new Set(['sb:', 'wss:', 'https:']);
const PLAIN_SCHEMES = new Set(['ws:', 'http:']);

/**
 * Parses `sb://ns.servicebus.windows.net/`, `wss://host:port`, `http://127.0.0.1:9350`, a bare
 * namespace name (`contoso` → `contoso.servicebus.windows.net`) or a host name with an optional port.
 */
export function parseRelayEndpoint(text: string, suffix = DEFAULT_RELAY_SUFFIX): RelayEndpoint {
  const value = text.trim();
  if (!value) throw new EndpointError('relay endpoint is empty');
  if (!value.includes('://')) {
    if (!value.includes('.') && !value.includes(':')) {
      if (!/^[A-Za-z0-9][A-Za-z0-9-]*$/.test(value)) throw new EndpointError(`"${value}" is not a valid namespace name`);
      return { secure: true, host: `${value}${suffix.startsWith('.') ? suffix : '.' + suffix}`.toLowerCase(), port: 443 };
    }
    return parseRelayEndpoint(`sb://${value}`, suffix);
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new EndpointError(`"${value}" is not a valid URI`);
  }
  const secure = SECURE_SCHEMES.has(url.protocol);
  if (!secure && !PLAIN_SCHEMES.has(url.protocol)) {
    throw new EndpointError(`unsupported scheme "${url.protocol}" in "${value}"; use sb://, wss://, https://, ws:// or http://`);
  }
  if (url.username || url.password) throw new EndpointError('relay endpoint must not contain user information');
  if (url.search || url.hash) throw new EndpointError('relay endpoint must not contain a query or fragment');
  const namespace = NAMESPACE_PATH.exec(url.pathname)?.[1];
  if (url.pathname !== '/' && url.pathname !== '' && namespace === undefined) {
    throw new EndpointError(`relay endpoint must not contain a path other than /$ns/{namespace} ("${url.pathname}")`);
  }
  if (!url.hostname) throw new EndpointError(`relay endpoint "${value}" has no host`);
  const defaultPort = secure ? 443 : 80;
  const port = url.port ? Number(url.port) : defaultPort;
  const endpoint: RelayEndpoint = { secure, host: url.hostname.replace(/^\[|\]$/g, '').toLowerCase(), port };
  if (namespace !== undefined) endpoint.namespacePath = `/$ns/${namespace.toLowerCase()}`;
  return endpoint;
}

/** `host:port` as it goes into a URL (IPv6 literals bracketed). */
export function hostPort(endpoint: RelayEndpoint): string {
  return `${formatHost(endpoint.host)}:${endpoint.port}`;
}

export function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** The endpoint as written in a connection string: `sb://host[:port]/` for TLS, `ws://host:port/` otherwise. */
export function formatEndpoint(endpoint: RelayEndpoint): string {
  const path = `${endpoint.namespacePath ?? ''}/`;
  if (endpoint.secure) return endpoint.port === 443 ? `sb://${formatHost(endpoint.host)}${path}` : `sb://${hostPort(endpoint)}${path}`;
  return `ws://${hostPort(endpoint)}${path}`;
}

/** `host:port` and the namespace path: what follows the scheme in every address built on the endpoint. */
export function endpointBase(endpoint: RelayEndpoint): string {
  return `${hostPort(endpoint)}${endpoint.namespacePath ?? ''}`;
}

/** The path tokens for `entityPath` are signed for: the namespace path (without its leading slash) and the entity path. */
export function audienceEntityPath(endpoint: RelayEndpoint, entityPath: string): string {
  return endpoint.namespacePath ? `${endpoint.namespacePath.slice(1)}/${entityPath}` : entityPath;
}

const ENTITY_PATH = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9._-]+)*$/;
export const MAX_ENTITY_PATH_LENGTH = 260;

/** Hybrid connection names: letters, digits, '.', '_', '-', and '/' between segments. */
export function isValidEntityPath(path: string): boolean {
  // '.' and '..' segments would be collapsed by URL parsers on the way to the relay.
  return path.length <= MAX_ENTITY_PATH_LENGTH && ENTITY_PATH.test(path) && !path.split('/').some((s) => s === '.' || s === '..');
}

export function encodeEntityPath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

export type HybridConnectionAction = 'listen' | 'connect' | 'accept' | 'request';

export interface HcUrlOptions {
  trackingId?: string;
  /** Extra path after the entity (sender only), e.g. `/suffix`. */
  pathSuffix?: string;
  /** Application query placed before the sb-hc-* parameters (without a leading '?'). */
  query?: string;
  /** Put the token in the query (`sb-hc-token`) instead of the ServiceBusAuthorization header. */
  token?: string;
}

/** `wss://host:port/$hc/{path}[suffix]?[query&]sb-hc-action=..&sb-hc-id=..` as the .NET SDK builds it. */
export function buildHybridConnectionUrl(endpoint: RelayEndpoint, entityPath: string, action: HybridConnectionAction, options: HcUrlOptions = {}): string {
  const scheme = endpoint.secure ? 'wss' : 'ws';
  const suffix = options.pathSuffix ? '/' + options.pathSuffix.replace(/^\/+/, '') : '';
  const params: string[] = [];
  if (options.query) params.push(options.query.replace(/^\?/, ''));
  params.push(`sb-hc-action=${action}`);
  if (options.trackingId) params.push(`sb-hc-id=${encodeURIComponent(options.trackingId)}`);
  if (options.token) params.push(`sb-hc-token=${encodeURIComponent(options.token)}`);
  return `${scheme}://${endpointBase(endpoint)}/$hc/${encodeEntityPath(entityPath)}${suffix}?${params.join('&')}`;
}

/** The plain HTTP(S) address senders use for relayed requests: `https://host:port/{path}`. */
export function buildHttpUrl(endpoint: RelayEndpoint, entityPath: string, pathSuffix = ''): string {
  const scheme = endpoint.secure ? 'https' : 'http';
  const suffix = pathSuffix ? '/' + pathSuffix.replace(/^\/+/, '') : '';
  return `${scheme}://${endpointBase(endpoint)}/${encodeEntityPath(entityPath)}${suffix}`;
}
