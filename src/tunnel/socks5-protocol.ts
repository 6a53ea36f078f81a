/**
 * The server side of a SOCKS5 handshake (RFC 1928, with RFC 1929 username/password), without sockets.
 * Feed it the client's bytes in whatever chunks they arrive; each `feed` returns the actions to take
 * in order: bytes to write, a successful login (for the log), the CONNECT to carry out, or a failure
 * after which the connection is closed. An empty list means it needs more bytes.
 *
 * Only CONNECT is served (BIND and UDP ASSOCIATE get 0x07). Domain names are passed on unresolved,
 * so they are resolved at the listener as with socks5h. Every length in the protocol is one byte, so
 * no message can grow the buffer beyond a few hundred bytes.
 */
import { isIP } from 'node:net';
import { formatTarget, hostProblem } from '../protocol/aztunnel-envelope.js';
import {
  encodeSocks5Address,
  formatIPv6,
  SOCKS5_AUTH_VERSION,
  SOCKS5_CMD_CONNECT,
  SOCKS5_VERSION,
  Socks5AddressType,
  Socks5Method,
  Socks5Reply,
  type Socks5ReplyCode,
} from '../protocol/socks5-wire.js';
import { secretMatcher } from '../util/same-secret.js';

export { formatIPv6, parseIPv6, Socks5Reply, type Socks5ReplyCode } from '../protocol/socks5-wire.js';

const VERSION = SOCKS5_VERSION;
const AUTH_VERSION = SOCKS5_AUTH_VERSION;
const METHOD_NO_AUTH = Socks5Method.NoAuthentication;
const METHOD_USER_PASS = Socks5Method.UsernamePassword;
const METHOD_NONE_ACCEPTABLE = Socks5Method.NoneAcceptable;
const CMD_CONNECT = SOCKS5_CMD_CONNECT;
const COMMAND_NAMES: Record<number, string> = { 0x02: 'BIND', 0x03: 'UDP ASSOCIATE' };
const ATYP_IPV4 = Socks5AddressType.IPv4;
const ATYP_DOMAIN = Socks5AddressType.Domain;
const ATYP_IPV6 = Socks5AddressType.IPv6;

/** A SOCKS5 setting that cannot work, or the handshake used after it finished. */
export class Socks5Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Socks5Error';
  }
}

export interface Socks5ConnectRequest {
  /** `host:port`, IPv6 bracketed: the envelope's target. */
  target: string;
  host: string;
  port: number;
  addressType: 'ipv4' | 'domain' | 'ipv6';
}

export type Socks5Action =
  | { type: 'write'; bytes: Buffer }
  | { type: 'authenticated'; username: string }
  /** Carry out the CONNECT, then write `encodeSocks5Reply(...)`. `leftover`: client bytes after the request. */
  | { type: 'connect'; request: Socks5ConnectRequest; leftover: Buffer }
  /** Close the connection (after writing any bytes listed before this action). */
  | { type: 'fail'; reason: string };

/** Compares the credentials a client sent (raw bytes). */
export type CredentialCheck = (username: Buffer, password: Buffer) => boolean;

export interface Socks5ServerOptions {
  /** When set, clients must log in with RFC 1929 username/password; otherwise no authentication. */
  checkCredentials?: CredentialCheck;
}

type Phase = 'greeting' | 'auth' | 'request' | 'connecting' | 'failed';

export class Socks5ServerHandshake {
  private phase: Phase = 'greeting';
  private pending: Buffer = Buffer.alloc(0);
  private actions: Socks5Action[] = [];

  constructor(private readonly options: Socks5ServerOptions = {}) {}

  /** True once the CONNECT request has been returned or the handshake failed; stop feeding then. */
  get finished(): boolean {
    return this.phase === 'connecting' || this.phase === 'failed';
  }

  feed(chunk: Uint8Array): Socks5Action[] {
    if (this.finished) throw new Socks5Error('SOCKS5 handshake is already finished');
    this.pending = this.pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.pending, chunk]);
    this.actions = [];
    while (!this.finished && this.step()) {
      // each step consumed one complete message
    }
    return this.actions;
  }

  /** Handles one complete message if it is buffered; false when more bytes are needed. */
  private step(): boolean {
    switch (this.phase) {
      case 'greeting':
        return this.readGreeting();
      case 'auth':
        return this.readCredentials();
      case 'request':
        return this.readRequest();
      default:
        return false;
    }
  }

  private readGreeting(): boolean {
    const p = this.pending;
    if (p.length < 1) return false;
    if (p[0] !== VERSION) {
      const hint = p[0] === 0x04 ? ' (SOCKS4 is not supported; use SOCKS5)' : '';
      return this.fail(`not a SOCKS5 client: version byte 0x${hex(p[0]!)}${hint}`);
    }
    if (p.length < 2 || p.length < 2 + p[1]!) return false;
    const methods = p.subarray(2, 2 + p[1]!);
    this.consume(2 + p[1]!);
    const wanted = this.options.checkCredentials ? METHOD_USER_PASS : METHOD_NO_AUTH;
    if (!methods.includes(wanted)) {
      this.write(Buffer.from([VERSION, METHOD_NONE_ACCEPTABLE]));
      const offered = methods.length ? [...methods].map(hex).join(' ') : 'none';
      const need = wanted === METHOD_USER_PASS ? 'username/password (02)' : 'no authentication (00)';
      return this.fail(`client offered no acceptable authentication method (offered: ${offered}; this proxy requires ${need})`);
    }
    this.write(Buffer.from([VERSION, wanted]));
    this.phase = wanted === METHOD_USER_PASS ? 'auth' : 'request';
    return true;
  }

  private readCredentials(): boolean {
    const p = this.pending;
    if (p.length < 1) return false;
    if (p[0] !== AUTH_VERSION) {
      this.write(Buffer.from([AUTH_VERSION, 0x01]));
      return this.fail(`bad username/password sub-negotiation version 0x${hex(p[0]!)}`);
    }
    if (p.length < 2) return false;
    const ulen = p[1]!;
    if (p.length < 3 + ulen) return false;
    const plen = p[2 + ulen]!;
    if (p.length < 3 + ulen + plen) return false;
    const username = Buffer.from(p.subarray(2, 2 + ulen));
    const password = Buffer.from(p.subarray(3 + ulen, 3 + ulen + plen));
    this.consume(3 + ulen + plen);
    const printableName = JSON.stringify(username.toString('utf8'));
    if (!this.options.checkCredentials!(username, password)) {
      this.write(Buffer.from([AUTH_VERSION, 0x01]));
      return this.fail(`authentication failed for user ${printableName}`);
    }
    this.write(Buffer.from([AUTH_VERSION, 0x00]));
    this.actions.push({ type: 'authenticated', username: username.toString('utf8') });
    this.phase = 'request';
    return true;
  }

  private readRequest(): boolean {
    const p = this.pending;
    if (p.length < 4) return false;
    const [version, command, , addressType] = [p[0]!, p[1]!, p[2]!, p[3]!];
    if (version !== VERSION) return this.refuse(Socks5Reply.GeneralFailure, `request has version byte 0x${hex(version)}`);
    if (command !== CMD_CONNECT) {
      const name = COMMAND_NAMES[command] ?? `0x${hex(command)}`;
      return this.refuse(Socks5Reply.CommandNotSupported, `command ${name} is not supported; only CONNECT is`);
    }
    let host: string;
    let kind: Socks5ConnectRequest['addressType'];
    let end: number;
    if (addressType === ATYP_IPV4) {
      end = 4 + 4;
      if (p.length < end + 2) return false;
      host = [...p.subarray(4, end)].join('.');
      kind = 'ipv4';
    } else if (addressType === ATYP_IPV6) {
      end = 4 + 16;
      if (p.length < end + 2) return false;
      host = formatIPv6(p.subarray(4, end));
      kind = 'ipv6';
    } else if (addressType === ATYP_DOMAIN) {
      if (p.length < 5) return false;
      end = 5 + p[4]!;
      if (p.length < end + 2) return false;
      host = p.subarray(5, end).toString('latin1');
      kind = 'domain';
    } else {
      return this.refuse(Socks5Reply.AddressTypeNotSupported, `address type 0x${hex(addressType)} is not supported`);
    }
    const port = p.readUInt16BE(end);
    this.consume(end + 2);
    if (kind === 'domain') {
      const problem = domainProblem(host);
      if (problem) return this.refuse(Socks5Reply.HostUnreachable, problem);
      if (host.startsWith('[')) host = host.slice(1, -1);
    }
    if (port === 0) return this.refuse(Socks5Reply.GeneralFailure, `port 0 is not a valid destination (${host})`);
    this.phase = 'connecting';
    this.actions.push({ type: 'connect', request: { target: formatTarget(host, port), host, port, addressType: kind }, leftover: this.pending });
    this.pending = Buffer.alloc(0);
    return true;
  }

  private consume(count: number): void {
    this.pending = this.pending.subarray(count);
  }

  private write(bytes: Buffer): void {
    this.actions.push({ type: 'write', bytes });
  }

  private refuse(code: Socks5ReplyCode, reason: string): boolean {
    this.write(encodeSocks5Reply(code));
    return this.fail(reason);
  }

  private fail(reason: string): boolean {
    this.phase = 'failed';
    this.pending = Buffer.alloc(0);
    this.actions.push({ type: 'fail', reason });
    return false;
  }
}

/** Why a DOMAINNAME field cannot be a target, or undefined. Clients sometimes put IP literals here. */
function domainProblem(name: string): string | undefined {
  if (name === '') return 'empty domain name';
  const inner = name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name;
  if (isIP(inner) === 6) return inner.includes('%') ? `IPv6 zone identifiers are not supported (${name})` : undefined;
  return hostProblem(name);
}

/**
 * A reply: `05 REP 00 ATYP BND.ADDR BND.PORT`. `bound` is the proxy's own address (the local end of
 * the client's socket); failures conventionally send 0.0.0.0:0.
 */
export function encodeSocks5Reply(code: Socks5ReplyCode, bound: { host: string; port: number } = { host: '0.0.0.0', port: 0 }): Buffer {
  const address = addressField(bound.host);
  const out = Buffer.alloc(3 + address.length + 2);
  out[0] = VERSION;
  out[1] = code;
  out[2] = 0x00;
  address.copy(out, 3);
  out.writeUInt16BE(bound.port & 0xffff, 3 + address.length);
  return out;
}

function addressField(host: string): Buffer {
  return encodeSocks5Address(host) ?? Buffer.from([ATYP_IPV4, 0, 0, 0, 0]);
}

/** A constant-time check against one configured username and password (each 1..255 bytes of UTF-8). */
export function credentialChecker(username: string, password: string): CredentialCheck {
  for (const [what, value] of [['username', username], ['password', password]] as const) {
    const length = Buffer.byteLength(value);
    if (length < 1 || length > 255) throw new Socks5Error(`SOCKS5 ${what} must be 1 to 255 bytes long (RFC 1929)`);
  }
  const userMatches = secretMatcher(username);
  const passwordMatches = secretMatcher(password);
  return (user, pass) => {
    // Evaluate both before combining, so the time does not tell which one was wrong.
    const userOk = userMatches(user);
    const passwordOk = passwordMatches(pass);
    return userOk && passwordOk;
  };
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}
