import { MAX_PORT_NAME_BYTES } from '../../protocol/azbridge-preamble.js';
import { ValueError } from './config-error.js';

/** azbridge's Constants.RelayNameRegex; port names follow the same rule. */
const RELAY_NAME = /^[0-9A-Za-z/_\-.]+$/;
const NAME_CHARACTERS = "letters, digits, '/', '_', '-' and '.'";

export function checkRelayName(name: string): string {
  if (!name) throw new ValueError('the relay name is empty');
  if (!RELAY_NAME.test(name)) throw new ValueError(`relay name "${name}" may contain only ${NAME_CHARACTERS}`);
  return name;
}

export function checkPortName(name: string): string {
  if (!name) throw new ValueError('the port name is empty');
  if (!RELAY_NAME.test(name)) throw new ValueError(`port name "${name}" may contain only ${NAME_CHARACTERS}`);
  if (name.length > MAX_PORT_NAME_BYTES) throw new ValueError(`port name "${name.slice(0, 20)}…" is longer than ${MAX_PORT_NAME_BYTES} characters`);
  return name;
}

/**
 * A socket's default port name is its file name. A file name the port-name rule rejects (a space,
 * say) needs an explicit name, so say so.
 */
export function defaultSocketPortName(path: string): string {
  const base = path.replace(/\/+$/, '').split('/').pop() ?? '';
  if (!base || !RELAY_NAME.test(base)) {
    throw new ValueError(`socket "${path}" has no usable default port name; give one explicitly (${NAME_CHARACTERS})`);
  }
  return checkPortName(base);
}

/** A port written as `N` (TCP) or `NU` (UDP), azbridge's command-line notation. */
export interface PortText {
  protocol: 'tcp' | 'udp';
  port: number;
  /** The text as written, which is also the default port name (`3000`, `3000U`). */
  text: string;
}

/** `N` or `NU` with N in 1..65535, or undefined when `text` is not written as a port at all. */
export function parsePortText(text: string): PortText | undefined {
  const m = /^(\d+)(U?)$/.exec(text);
  if (!m) {
    if (/^\d+u$/.test(text)) throw new ValueError(`"${text}": write UDP ports with an upper-case U, as in ${text.slice(0, -1)}U`);
    return undefined;
  }
  return { protocol: m[2] ? 'udp' : 'tcp', port: checkPort(Number(m[1]), 'port'), text };
}

export function checkPort(port: number, label: string): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ValueError(`${label} ${port} is out of range 1..65535`);
  return port;
}

/** azbridge strips surrounding quotes from every string value (shells on Windows leave them in). */
export function unquote(text: string): string {
  const t = text.trim();
  if (t.length >= 2 && (t[0] === '"' || t[0] === "'") && t[t.length - 1] === t[0]) return t.slice(1, -1).trim();
  return t;
}

/**
 * A command-line binding that is neither a port nor a path. azbridge took a plain word as a socket
 * in the working directory, so `-L localhost:web` quietly made a socket file `./localhost`; here a
 * socket path must contain '/', and the message says what was probably meant.
 */
export function notPortNorSocket(text: string, example: string): ValueError {
  const safe = isPlainSocketName(text) ? text : 'name';
  return new ValueError(`"${text}" is not a port (N for TCP, NU for UDP); an address needs a port after it (${example}), and a Unix socket path must contain '/' (./${safe} or /run/${safe}.sock)`);
}

/** Plain names, not paths: what `LocalSocket: name` accepts besides paths. */
export function isPlainSocketName(text: string): boolean {
  return /^[0-9A-Za-z_\-.]+$/.test(text);
}

/** Paths are written `/abs`, `./rel` or `../rel`; anything else is a plain name (azbridge compatible). */
export function looksLikePath(text: string): boolean {
  return text.startsWith('/') || text.startsWith('./') || text.startsWith('../');
}
