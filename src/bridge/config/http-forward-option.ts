import { checkTargetHost } from './addresses.js';
import { firstIndexOutsideBrackets, splitOutsideBrackets } from './bracket-split.js';
import { at, ValueError } from './config-error.js';
import { httpBasePath } from './http-base-path.js';
import type { HttpRemoteBinding, RemoteForward } from './model.js';
import { checkPort, checkRelayName, unquote } from './names.js';

const SYNTAX = 'relay_name:{http|https}/host[/path][:port]{;...}';

/**
 * `-H` (reference/azbridge.md §1.5):
 *
 *   -H relay_name:{http|https}/host[/seg...][:port]{;...}
 *
 * The port defaults to 80 for http and 443 for https; path segments become `Path` = `/seg1/seg2/`
 * (always with a trailing slash; `/` without segments; empty segments dropped). The port name is the
 * scheme. As in azbridge, the token after the scheme is always the host, so the README's
 * `-H latavola:https/443` means host "443", port 443. IPv6 hosts go in brackets:
 * `-H relay:http/[::1]/api:8080`.
 */
export function parseHttpForwardOption(expression: string): RemoteForward {
  const text = unquote(expression);
  const source = `-H ${text}`;
  return at(`-H "${text}"`, () => {
    if (!text) throw new ValueError(`the expression is empty; expected ${SYNTAX}`);
    const colon = firstIndexOutsideBrackets(text, ':');
    if (colon < 0) throw new ValueError(`missing ':' after the relay name; expected ${SYNTAX}`);
    const relayName = checkRelayName(text.slice(0, colon));
    const bindings = splitOutsideBrackets(text.slice(colon + 1), ';').map((b) => parseBinding(b.trim()));
    return { relayName, bindings, source };
  });
}

function parseBinding(text: string): HttpRemoteBinding {
  if (!text) throw new ValueError(`a binding is empty; expected ${SYNTAX}`);
  const parts = splitOutsideBrackets(text, ':');
  if (parts.length > 2) throw new ValueError(`too many ':' in "${text}"; write IPv6 addresses in brackets, e.g. http/[::1]:8080`);
  const segments = splitOutsideBrackets(parts[0], '/');
  const scheme = segments[0].toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') {
    throw new ValueError(`"${text}" must start with the port name http/ or https/`);
  }
  if (segments.length < 2 || !segments[1]) throw new ValueError(`"${text}" has no host after "${segments[0]}/"`);
  const host = checkTargetHost(segments[1]);
  const path = httpBasePath(segments.slice(2));
  const port = parts.length === 2 ? httpPort(parts[1]) : scheme === 'http' ? 80 : 443;
  return { kind: 'http', portName: scheme, scheme, host, port, path, insecure: false };
}

function httpPort(text: string): number {
  if (!/^\d+$/.test(text)) throw new ValueError(`"${text}" is not a TCP port number`);
  return checkPort(Number(text), 'port');
}
