import { checkListenAddress, isLocalAddress, stripBrackets, type LocalAddressCheck } from './addresses.js';
import { lastIndexOutsideBrackets, leadingBracket, splitOutsideBrackets } from './bracket-split.js';
import { at, ValueError } from './config-error.js';
import type { LocalForwardEntry } from './layer.js';
import type { LocalBinding } from './model.js';
import { checkPortName, checkRelayName, defaultSocketPortName, isPlainSocketName, looksLikePath, notPortNorSocket, parsePortText, unquote } from './names.js';

/**
 * `-L` (reference/azbridge.md §1.2):
 *
 *   -L [bind_address:]port[/port_name]{;...}:relay_name      port is N (TCP) or NU (UDP)
 *   -L local_socket[/port_name]{;...}:relay_name
 *
 * The relay name follows the last ':'. Beyond azbridge:
 * - IPv6 bind addresses in brackets: `-L [::1]:8080:relay`.
 * - Socket paths: a binding that starts with `/`, `./` or `../` is a path in full (its '/' are not
 *   port-name separators) and its port name defaults to the file name. To name the port, or to use a
 *   path with ':' or ';' in it, bracket the path: `-L [/run/a:b.sock]/api:relay`.
 * - A socket path must contain '/': azbridge's plain socket name (`-L name:relay`, a socket `./name`)
 *   is refused with a hint, since `-L localhost:relay` meant an address with a forgotten port.
 * - Without a bind address the model leaves bindAddress undefined (azbridge writes "localhost"): the
 *   runtime binds loopback, or all interfaces with -g (see effectiveBindAddress).
 */
export function parseLocalForwardOption(expression: string, isLocal: LocalAddressCheck = isLocalAddress): LocalForwardEntry {
  const text = unquote(expression);
  const source = `-L ${text}`;
  return at(`-L "${text}"`, () => {
    if (!text) throw new ValueError('the expression is empty; expected [bind_address:]port[/port_name]{;...}:relay_name');
    const colon = lastIndexOutsideBrackets(text, ':');
    if (colon < 0) throw new ValueError("missing ':relay_name' at the end; expected [bind_address:]port[/port_name]{;...}:relay_name");
    const relayName = checkRelayName(text.slice(colon + 1));
    const bindings = splitOutsideBrackets(text.slice(0, colon), ';').map((b) => parseBinding(b.trim(), isLocal));
    return { relayName, bindings, source };
  });
}

function parseBinding(text: string, isLocal: LocalAddressCheck): LocalBinding {
  if (!text) throw new ValueError("a binding is empty (check for a stray ';' or a missing port)");
  const parts = splitOutsideBrackets(text, ':');
  if (parts.length > 2) throw new ValueError(`too many ':' in "${text}"; write IPv6 addresses in brackets, e.g. [::1]:8080`);
  if (parts.length === 2) return addressAndPort(parts[0], parts[1], isLocal);
  return portOrSocket(text);
}

/** `address:port[/name]`: the port must be a port here, not a socket. */
function addressAndPort(addressText: string, portSpec: string, isLocal: LocalAddressCheck): LocalBinding {
  if (!addressText) throw new ValueError(`"${addressText}:${portSpec}" has an empty bind address`);
  const bindAddress = checkListenAddress(addressText, isLocal);
  const [portText, name] = splitPortName(portSpec);
  const port = parsePortText(portText);
  if (!port) throw new ValueError(`"${portText}" after "${stripBrackets(addressText)}:" is not a port (N for TCP, NU for UDP, 1..65535)`);
  return { kind: port.protocol, bindAddress, port: port.port, portName: checkPortName(name ?? port.text), noAuthentication: false };
}

function portOrSocket(text: string): LocalBinding {
  const bracketed = leadingBracket(text);
  if (bracketed) {
    if (!bracketed.inner) throw new ValueError('the bracketed socket path is empty');
    if (bracketed.rest && !bracketed.rest.startsWith('/')) throw new ValueError(`expected "/port_name" after "[${bracketed.inner}]", found "${bracketed.rest}"`);
    const name = bracketed.rest ? bracketed.rest.slice(1) : undefined;
    return unixBinding(bracketed.inner, name);
  }
  if (looksLikePath(text)) return unixBinding(text, undefined);
  const [head, name] = splitPortName(text);
  const port = parsePortText(head);
  if (port) return { kind: port.protocol, port: port.port, portName: checkPortName(name ?? port.text), noAuthentication: false };
  throw notPortNorSocket(head, `${isPlainSocketName(head) ? head : '127.0.0.1'}:8080:relay`);
}

function unixBinding(path: string, name: string | undefined): LocalBinding {
  return { kind: 'unix', path, portName: name === undefined ? defaultSocketPortName(path) : checkPortName(name), noAuthentication: false };
}

/** `x/name` → [x, name]; `x` → [x, undefined]. A second '/' is an error (azbridge would drop the rest). */
function splitPortName(text: string): [string, string | undefined] {
  const parts = text.split('/');
  if (parts.length > 2) throw new ValueError(`"${text}" has more than one '/'; expected value/port_name`);
  return [parts[0], parts[1]];
}
