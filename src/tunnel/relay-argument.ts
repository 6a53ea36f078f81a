/**
 * aztunnel's `--relay` value (reference aztunnel-and-peers.md §1.2, "How --relay is parsed"):
 *
 *   my-ns                              bare name: my-ns + --relay-suffix (default .servicebus.windows.net)
 *   my-ns.servicebus.windows.net       contains a dot: used as-is, TLS on 443
 *   sb:// https:// wss:// URIs         TLS; a host without "." or ":" (and no port) gets the suffix too
 *   ws:// http:// URIs                 hybridge extension: a plain relay, e.g. ws://127.0.0.1:9350
 *
 * Rejected as aztunnel does: other schemes, bare host:port (write wss://host:port or ws://host:port),
 * URIs with userinfo, a query, a fragment, a path other than "/", an empty port or one outside 1..65535.
 * An explicit :443 is the default port, so it disappears in the endpoint.
 */
import { isIP } from 'node:net';
import { DEFAULT_RELAY_SUFFIX, EndpointError, type RelayEndpoint } from '../protocol/relay-endpoint.js';
import { hostProblem } from '../protocol/aztunnel-envelope.js';

const SCHEMES: Record<string, { secure: boolean; defaultPort: number }> = {
  sb: { secure: true, defaultPort: 443 },
  https: { secure: true, defaultPort: 443 },
  wss: { secure: true, defaultPort: 443 },
  ws: { secure: false, defaultPort: 80 },
  http: { secure: false, defaultPort: 80 },
};

/** `suffix` "" means the default, as with aztunnel's `--relay-suffix`; a missing leading dot is added. */
export function parseRelayArgument(value: string, suffix = DEFAULT_RELAY_SUFFIX): RelayEndpoint {
  const text = value.trim();
  const fail = (reason: string): never => {
    throw new EndpointError(`invalid relay ${JSON.stringify(value)}: ${reason}`);
  };
  if (text === '') fail('it is empty; give a namespace name (my-ns), a host name (my-ns.servicebus.windows.net) or a URI (sb://my-ns.servicebus.windows.net/)');
  const fullSuffix = normaliseSuffix(suffix);

  const schemeEnd = text.indexOf('://');
  if (schemeEnd < 0) {
    if (text.includes(':')) fail(`a bare host:port is ambiguous; write wss://${text} for a TLS relay or ws://${text} for a plain one`);
    if (text.includes('.')) return { secure: true, host: checkedHost(text, fail), port: 443 };
    if (!/^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/.test(text)) fail('a namespace name has only letters, digits and inner hyphens');
    return { secure: true, host: `${text}${fullSuffix}`.toLowerCase(), port: 443 };
  }

  const schemeName = text.slice(0, schemeEnd).toLowerCase();
  const scheme = SCHEMES[schemeName];
  if (!scheme) return fail(`unsupported scheme "${schemeName}://"; use sb://, wss:// or https:// (TLS), or ws:// or http:// (plain)`);

  const afterScheme = text.slice(schemeEnd + 3);
  const authorityEnd = afterScheme.search(/[/?#]/);
  const authority = authorityEnd < 0 ? afterScheme : afterScheme.slice(0, authorityEnd);
  const rest = authorityEnd < 0 ? '' : afterScheme.slice(authorityEnd);
  if (rest.includes('#')) fail('a relay URI must not have a fragment');
  if (rest.includes('?')) fail('a relay URI must not have a query');
  if (rest !== '' && rest !== '/') fail(`a relay URI must not have a path (found "${rest}")`);
  if (authority.includes('@')) fail('a relay URI must not contain user information; credentials go in AZTUNNEL_KEY_NAME / AZTUNNEL_KEY');
  if (authority === '') fail('the URI has no host');

  let host: string;
  let portText: string | undefined;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close < 0) fail('missing "]" after the IPv6 address');
    host = authority.slice(1, close);
    if (isIP(host) !== 6 || host.includes('%')) fail(`"${host}" is not an IPv6 address`);
    const after = authority.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) fail(`unexpected "${after}" after the IPv6 address`);
    portText = after === '' ? undefined : after.slice(1);
  } else {
    const colon = authority.indexOf(':');
    if (colon >= 0 && authority.indexOf(':', colon + 1) >= 0) fail('IPv6 addresses must be bracketed, e.g. wss://[::1]:9350');
    host = colon < 0 ? authority : authority.slice(0, colon);
    portText = colon < 0 ? undefined : authority.slice(colon + 1);
    host = checkedHost(host, fail);
  }

  let port = scheme.defaultPort;
  if (portText !== undefined) {
    if (portText === '') fail('the port after ":" is empty');
    if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) fail(`port "${portText}" is not a number from 1 to 65535`);
    port = Number(portText);
  }
  // aztunnel appends the suffix to a URI host that has neither a dot nor a port (sb://my-ns).
  // Plain relays are local ones, and nobody means localhost.servicebus.windows.net.
  if (scheme.secure && portText === undefined && !host.includes('.') && !host.includes(':') && host !== 'localhost') {
    host = `${host}${fullSuffix}`;
  }
  return { secure: scheme.secure, host: host.toLowerCase(), port };
}

function normaliseSuffix(suffix: string): string {
  const value = suffix.trim() || DEFAULT_RELAY_SUFFIX;
  return value.startsWith('.') ? value : `.${value}`;
}

function checkedHost(host: string, fail: (reason: string) => never): string {
  const problem = hostProblem(host);
  if (problem) fail(problem);
  return (host.endsWith('.') ? host.slice(0, -1) : host).toLowerCase();
}
