import { checkTargetHost } from './addresses.js';
import { firstIndexOutsideBrackets, leadingBracket, splitOutsideBrackets } from './bracket-split.js';
import { at, ValueError } from './config-error.js';
import type { RemoteBinding, RemoteForward } from './model.js';
import { checkPortName, checkRelayName, defaultSocketPortName, isPlainSocketName, looksLikePath, notPortNorSocket, parsePortText, unquote } from './names.js';

/**
 * `-T` and its legacy form `-R` (reference/azbridge.md §1.3, §1.4):
 *
 *   -T relay_name:[port_name/]port{;...}            target localhost:port (N TCP, NU UDP)
 *   -T relay_name:[port_name/]host:port{;...}
 *   -T relay_name:[port_name/]local_socket{;...}
 *   -R relay_name:host:[port_name/]port{;...}       -R differs only in the host:port form
 *
 * The relay name ends at the first ':'. The port name defaults to the port text (`3000`, `3000U`) or
 * to the socket's file name. Beyond azbridge: IPv6 hosts in brackets (`-T relay:[fd00::5]:22`,
 * `-T relay:name/[::1]:22`, `-R relay:[::1]:name/22`), and socket paths as in -L: a target that starts
 * with `/`, `./` or `../` is a path in full, and `[path]` brackets a path with ':' or ';' in it
 * (`-T relay:api//run/api.sock`, `-T relay:api/[/run/a:b.sock]`).
 */
export function parseRemoteForwardOption(expression: string): RemoteForward {
  return parseRemote(expression, '-T');
}

export function parseLegacyRemoteForwardOption(expression: string): RemoteForward {
  return parseRemote(expression, '-R');
}

type Flavour = '-T' | '-R';

const SYNTAX: Record<Flavour, string> = {
  '-T': 'relay_name:[port_name/][host:]port{;...}',
  '-R': 'relay_name:[host:][port_name/]port{;...}',
};

function parseRemote(expression: string, flavour: Flavour): RemoteForward {
  const text = unquote(expression);
  const source = `${flavour} ${text}`;
  return at(`${flavour} "${text}"`, () => {
    if (!text) throw new ValueError(`the expression is empty; expected ${SYNTAX[flavour]}`);
    const colon = firstIndexOutsideBrackets(text, ':');
    if (colon < 0) throw new ValueError(`missing ':' after the relay name; expected ${SYNTAX[flavour]}`);
    const relayName = checkRelayName(text.slice(0, colon));
    const bindings = splitOutsideBrackets(text.slice(colon + 1), ';').map((b) => parseBinding(b.trim(), flavour));
    return { relayName, bindings, source };
  });
}

function parseBinding(text: string, flavour: Flavour): RemoteBinding {
  if (!text) throw new ValueError(`a binding is empty; expected ${SYNTAX[flavour]}`);
  const parts = splitOutsideBrackets(text, ':');
  if (parts.length > 2) throw new ValueError(`too many ':' in "${text}"; write IPv6 addresses in brackets, e.g. [::1]:22`);
  if (parts.length === 1) return namedTarget(text);
  return flavour === '-T' ? newHostPort(parts[0], parts[1]) : legacyHostPort(parts[0], parts[1]);
}

/** `[port_name/]port` or `[port_name/]socket`, target host localhost. */
function namedTarget(text: string): RemoteBinding {
  if (looksLikePath(text) || text.startsWith('[')) return socketTarget(text, undefined);
  const slash = text.indexOf('/');
  const name = slash < 0 ? undefined : text.slice(0, slash);
  const target = slash < 0 ? text : text.slice(slash + 1);
  if (looksLikePath(target) || target.startsWith('[')) return socketTarget(target, name);
  if (target.includes('/')) throw new ValueError(`"${text}" has more than one '/'; expected [port_name/]port or [port_name/]socket`);
  const port = parsePortText(target);
  if (port) return { kind: port.protocol, portName: checkPortName(name ?? port.text), host: 'localhost', port: port.port };
  throw notPortNorSocket(target, `relay:${isPlainSocketName(target) ? target : 'host'}:8080`);
}

function socketTarget(text: string, name: string | undefined): RemoteBinding {
  let path = text;
  const bracketed = leadingBracket(text);
  if (bracketed) {
    if (bracketed.rest) throw new ValueError(`unexpected "${bracketed.rest}" after "[${bracketed.inner}]"`);
    path = bracketed.inner;
  }
  if (!path) throw new ValueError('the socket path is empty');
  return { kind: 'unix', portName: name === undefined ? defaultSocketPortName(path) : checkPortName(name), path };
}

/** -T: `[port_name/]host:port`. */
function newHostPort(hostSpec: string, portText: string): RemoteBinding {
  const slash = firstIndexOutsideBrackets(hostSpec, '/');
  const name = slash < 0 ? undefined : hostSpec.slice(0, slash);
  const hostText = slash < 0 ? hostSpec : hostSpec.slice(slash + 1);
  if (firstIndexOutsideBrackets(hostText, '/') >= 0) throw new ValueError(`"${hostSpec}" has more than one '/'; expected [port_name/]host`);
  return hostTarget(hostText, portText, name);
}

/** -R: `host:[port_name/]port`. */
function legacyHostPort(hostText: string, portSpec: string): RemoteBinding {
  const slash = portSpec.indexOf('/');
  if (slash >= 0 && portSpec.indexOf('/', slash + 1) >= 0) throw new ValueError(`"${portSpec}" has more than one '/'; expected [port_name/]port`);
  const name = slash < 0 ? undefined : portSpec.slice(0, slash);
  return hostTarget(hostText, slash < 0 ? portSpec : portSpec.slice(slash + 1), name);
}

function hostTarget(hostText: string, portText: string, name: string | undefined): RemoteBinding {
  const host = checkTargetHost(hostText);
  const port = parsePortText(portText);
  if (!port) throw new ValueError(`"${portText}" is not a port (N for TCP, NU for UDP, 1..65535)`);
  return { kind: port.protocol, portName: checkPortName(name ?? port.text), host, port: port.port };
}
