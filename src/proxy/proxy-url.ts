/**
 * Proxy URLs as HTTPS_PROXY, ALL_PROXY and --proxy give them:
 *
 *   http://[user:password@]host[:port]      HTTP CONNECT, Basic credentials (default port 80)
 *   socks5://[user:password@]host[:port]    SOCKS5, RFC 1929 credentials (default port 1080)
 *   socks5h://...                           the same: the relay's name is always resolved by the proxy
 *   host:port                               taken as http://host:port, as curl does
 *
 * User name and password are percent-decoded. Nothing here echoes the text it was given: it may hold
 * a password.
 */
import { isIP } from 'node:net';
import { ProxySettingsError } from './proxy-error.js';

export type ProxyKind = 'http' | 'socks5';

export interface ProxyServer {
  kind: ProxyKind;
  /** Host name or IP literal, without brackets. */
  host: string;
  port: number;
  username?: string;
  password?: string;
  /** scheme://host:port, safe to show: no credentials. */
  label: string;
}

const DEFAULT_PORT: Record<ProxyKind, number> = { http: 80, socks5: 1080 };
const HOST_NAME = /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?$/;
const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
const EXPECTED = 'expected http://[user:password@]host:port or socks5://[user:password@]host:port';

/** Parses one proxy URL; `source` (a flag or variable name) starts every error message. */
export function parseProxyUrl(text: string, source: string): ProxyServer {
  const fail = (problem: string): never => {
    throw new ProxySettingsError(`${source}: ${problem}`);
  };
  const trimmed = text.trim();
  if (!trimmed) fail(`is empty; ${EXPECTED}`);
  let url: URL;
  try {
    url = new URL(SCHEME.test(trimmed) ? trimmed : `http://${trimmed}`);
  } catch {
    return fail(`not a proxy URL; ${EXPECTED}`);
  }
  const scheme = url.protocol.slice(0, -1).toLowerCase();
  const kind = kindOf(scheme, fail);
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (!host) fail(`names no proxy host; ${EXPECTED}`);
  if (!isIP(host) && !HOST_NAME.test(host)) fail(`the proxy host is not a valid host name or IP address; ${EXPECTED}`);
  if ((url.pathname !== '' && url.pathname !== '/') || url.search || url.hash) fail('a proxy URL has no path, query or fragment; give scheme://host:port');
  const port = url.port ? Number(url.port) : DEFAULT_PORT[kind];
  if (!(port >= 1 && port <= 65535)) fail('the proxy port must be from 1 to 65535');

  const server: ProxyServer = { kind, host, port, label: `${scheme}://${isIP(host) === 6 ? `[${host}]` : host}:${port}` };
  if (url.username || url.password) {
    try {
      server.username = decodeURIComponent(url.username);
      server.password = decodeURIComponent(url.password);
    } catch {
      fail('the user name or password of the proxy URL is not properly percent-encoded (write @ as %40, : as %3A, % as %25)');
    }
    if (!server.username) fail('the proxy URL has a password but no user name');
    if (kind === 'socks5') checkSocksCredential(server.username!, server.password!, fail);
  }
  return server;
}

function kindOf(scheme: string, fail: (problem: string) => never): ProxyKind {
  switch (scheme) {
    case 'http':
      return 'http';
    case 'socks5':
    case 'socks5h':
      return 'socks5';
    case 'https':
      return fail('https:// proxies (TLS to the proxy itself) are not supported; use http://host:port (the connection to the relay stays TLS from end to end inside the tunnel)');
    case 'socks':
    case 'socks4':
    case 'socks4a':
      return fail('SOCKS4 is not supported; use socks5://host:port');
    default:
      return fail(`"${scheme}://" is not a proxy scheme hybridge speaks; ${EXPECTED}`);
  }
}

/** RFC 1929: user name and password are each 1 to 255 bytes. */
function checkSocksCredential(username: string, password: string, fail: (problem: string) => never): void {
  for (const [what, value] of [['user name', username], ['password', password]] as const) {
    const length = Buffer.byteLength(value);
    if (length < 1 || length > 255) fail(`a SOCKS5 ${what} must be 1 to 255 bytes long (RFC 1929)`);
  }
}
