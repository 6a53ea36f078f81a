/**
 * The client side of a SOCKS5 CONNECT (RFC 1928) on a connection to a SOCKS5 proxy, with RFC 1929
 * username/password when the proxy URL has them. The relay's host name goes to the proxy unresolved
 * (as socks5h does): inside a corporate network the client often cannot resolve public names.
 */
import type { Socket } from 'node:net';
import {
  encodeSocks5Address,
  SOCKS5_AUTH_VERSION,
  SOCKS5_CMD_CONNECT,
  SOCKS5_REPLY_TEXT,
  SOCKS5_VERSION,
  Socks5AddressType,
  Socks5Method,
  Socks5Reply,
} from '../protocol/socks5-wire.js';
import { ProxyError, ProxySettingsError } from './proxy-error.js';
import type { ProxyServer } from './proxy-url.js';
import { readMessage } from './read-message.js';

/** The longest reply: a 255-byte domain name as the bound address. */
const MAX_REPLY_BYTES = 4 + 1 + 255 + 2;

export async function socks5Connect(socket: Socket, proxy: ProxyServer, host: string, port: number): Promise<void> {
  const address = encodeSocks5Address(host);
  if (!address) throw new ProxySettingsError(`the relay host name "${host.slice(0, 80)}" is too long for SOCKS5 (at most 255 bytes)`);
  const target = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const withCredentials = proxy.username !== undefined;
  const methods = withCredentials ? [Socks5Method.NoAuthentication, Socks5Method.UsernamePassword] : [Socks5Method.NoAuthentication];
  socket.write(Buffer.from([SOCKS5_VERSION, methods.length, ...methods]));
  const method = await readMessage(socket, fixed(2, (b) => notSocks5(proxy, b[0] !== SOCKS5_VERSION) ?? b[1]!), 2);

  if (method === Socks5Method.UsernamePassword && withCredentials) await authenticate(socket, proxy);
  else if (method !== Socks5Method.NoAuthentication) {
    const hint =
      method === Socks5Method.NoneAcceptable && !withCredentials
        ? 'it wants a user name and password: give them in the proxy URL (socks5://user:password@host:port)'
        : 'hybridge offers no authentication and username/password (RFC 1929) only';
    throw new ProxyError(proxy.label, 'authentication', `proxy ${proxy.label} accepts none of the offered authentication methods; ${hint}`);
  }

  const request = Buffer.alloc(3 + address.length + 2);
  request.set([SOCKS5_VERSION, SOCKS5_CMD_CONNECT, 0x00]);
  address.copy(request, 3);
  request.writeUInt16BE(port, 3 + address.length);
  socket.write(request);
  const reply = await readMessage(socket, parseReply(proxy), MAX_REPLY_BYTES);
  if (reply === Socks5Reply.Succeeded) return;
  const text = SOCKS5_REPLY_TEXT[reply] ?? 'unknown failure';
  const failure = reply === Socks5Reply.NotAllowedByRuleset ? 'forbidden' : reply === Socks5Reply.CommandNotSupported || reply === Socks5Reply.AddressTypeNotSupported ? 'protocol' : 'refused';
  const hint = failure === 'forbidden' ? "; the proxy's rules do not allow a tunnel to this host and port" : '';
  throw new ProxyError(proxy.label, failure, `proxy ${proxy.label} refused the tunnel to ${target}: ${text} (SOCKS5 reply 0x${reply.toString(16).padStart(2, '0')})${hint}`);
}

async function authenticate(socket: Socket, proxy: ProxyServer): Promise<void> {
  const user = Buffer.from(proxy.username!, 'utf8');
  const password = Buffer.from(proxy.password ?? '', 'utf8');
  socket.write(Buffer.concat([Buffer.from([SOCKS5_AUTH_VERSION, user.length]), user, Buffer.from([password.length]), password]));
  const status = await readMessage(socket, fixed(2, (b) => notSocks5(proxy, b[0] !== SOCKS5_AUTH_VERSION) ?? b[1]!), 2);
  if (status !== 0x00) {
    throw new ProxyError(proxy.label, 'authentication', `proxy ${proxy.label} rejected the user name or password; check them in the proxy URL`);
  }
}

/** A parser for a message of `length` bytes. */
function fixed<T>(length: number, read: (bytes: Buffer) => T): (buffered: Buffer) => { value: T; length: number } | undefined {
  return (buffered) => (buffered.length < length ? undefined : { value: read(buffered), length });
}

/** `VER REP RSV ATYP BND.ADDR BND.PORT`: the reply code, once the whole reply is there. */
function parseReply(proxy: ProxyServer): (buffered: Buffer) => { value: number; length: number } | undefined {
  return (b) => {
    if (b.length < 5) return undefined;
    notSocks5(proxy, b[0] !== SOCKS5_VERSION);
    const atyp = b[3]!;
    const addressLength = atyp === Socks5AddressType.IPv4 ? 4 : atyp === Socks5AddressType.IPv6 ? 16 : atyp === Socks5AddressType.Domain ? 1 + b[4]! : -1;
    // A failure reply may carry a bogus address type; its code is all that matters then.
    if (addressLength < 0) return { value: b[1]! === Socks5Reply.Succeeded ? Socks5Reply.GeneralFailure : b[1]!, length: b.length };
    const length = 4 + addressLength + 2;
    return b.length < length ? undefined : { value: b[1]!, length };
  };
}

function notSocks5(proxy: ProxyServer, wrong: boolean): undefined {
  if (wrong) throw new ProxyError(proxy.label, 'protocol', `proxy ${proxy.label} did not answer as a SOCKS5 proxy; for an HTTP proxy write http://`);
  return undefined;
}
