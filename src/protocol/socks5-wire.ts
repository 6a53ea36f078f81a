/**
 * SOCKS5's wire constants and address fields (RFC 1928, RFC 1929), shared by the server side
 * (relay-sender socks5-proxy, src/tunnel/socks5-protocol.ts) and the client side (relay
 * connections through a SOCKS5 proxy, src/proxy/socks5-connect.ts).
 */
import { isIP } from 'node:net';

export const SOCKS5_VERSION = 0x05;
/** RFC 1929's sub-negotiation version. */
export const SOCKS5_AUTH_VERSION = 0x01;
export const Socks5Method = {
  NoAuthentication: 0x00,
  UsernamePassword: 0x02,
  NoneAcceptable: 0xff,
} as const;
export const SOCKS5_CMD_CONNECT = 0x01;
export const Socks5AddressType = {
  IPv4: 0x01,
  Domain: 0x03,
  IPv6: 0x04,
} as const;

export const Socks5Reply = {
  Succeeded: 0x00,
  GeneralFailure: 0x01,
  NotAllowedByRuleset: 0x02,
  NetworkUnreachable: 0x03,
  HostUnreachable: 0x04,
  ConnectionRefused: 0x05,
  TtlExpired: 0x06,
  CommandNotSupported: 0x07,
  AddressTypeNotSupported: 0x08,
} as const;
export type Socks5ReplyCode = (typeof Socks5Reply)[keyof typeof Socks5Reply];

/** RFC 1928's names of the reply codes, as a client reports them. */
export const SOCKS5_REPLY_TEXT: Record<number, string> = {
  [Socks5Reply.GeneralFailure]: 'general SOCKS server failure',
  [Socks5Reply.NotAllowedByRuleset]: 'connection not allowed by ruleset',
  [Socks5Reply.NetworkUnreachable]: 'network unreachable',
  [Socks5Reply.HostUnreachable]: 'host unreachable',
  [Socks5Reply.ConnectionRefused]: 'connection refused',
  [Socks5Reply.TtlExpired]: 'TTL expired',
  [Socks5Reply.CommandNotSupported]: 'command not supported',
  [Socks5Reply.AddressTypeNotSupported]: 'address type not supported',
};

/**
 * `ATYP ADDR` for a host: an IPv4 or IPv6 literal as its bytes (an IPv4-mapped IPv6 address as
 * IPv4), anything else as a domain name, sent unresolved. Undefined when a name does not fit (1 to
 * 255 bytes).
 */
export function encodeSocks5Address(host: string): Buffer | undefined {
  const bare = host.replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  const v4 = mapped ? mapped[1]! : bare;
  if (isIP(v4) === 4) return Buffer.from([Socks5AddressType.IPv4, ...v4.split('.').map(Number)]);
  if (isIP(bare) === 6) return Buffer.concat([Buffer.from([Socks5AddressType.IPv6]), parseIPv6(bare)]);
  const name = Buffer.from(host, 'latin1');
  if (name.length === 0 || name.length > 255) return undefined;
  return Buffer.concat([Buffer.from([Socks5AddressType.Domain, name.length]), name]);
}

/** 16 bytes as RFC 5952 text: lowercase, leading zeros dropped, the longest run of 2+ zero groups as "::". */
export function formatIPv6(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  const text = (part: number[]): string => part.map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return text(groups);
  return `${text(groups.slice(0, bestStart))}::${text(groups.slice(bestStart + bestLength))}`;
}

/** An IPv6 literal (already checked with isIP) as 16 bytes; an embedded dotted IPv4 tail is allowed. */
export function parseIPv6(text: string): Buffer {
  let body = text;
  const tail: number[] = [];
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(body);
  if (dotted) {
    const [a, b, c, d] = dotted[2]!.split('.').map(Number) as [number, number, number, number];
    tail.push((a << 8) | b, (c << 8) | d);
    body = dotted[1]!.endsWith('::') ? dotted[1]! : dotted[1]!.slice(0, -1);
  }
  const [head, rest] = body.includes('::') ? body.split('::') : [body, undefined];
  const parse = (part: string | undefined): number[] => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  const left = parse(head);
  const right = [...parse(rest), ...tail];
  const zeros = rest === undefined ? [] : new Array<number>(8 - left.length - right.length).fill(0);
  const groups = [...left, ...zeros, ...right];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}
