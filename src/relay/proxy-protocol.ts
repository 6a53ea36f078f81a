/**
 * The PROXY protocol (haproxy's proxy-protocol.txt, versions 1 and 2): the header a load balancer
 * writes at the start of a TCP connection to say whom the connection is really from. This file
 * only parses; proxy-protocol-listener.ts reads it off sockets.
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface ProxiedAddress {
  address: string;
  port: number;
}

/**
 * What a header said. `source` is absent when the connection's own addresses apply: a v2 LOCAL
 * command (the balancer's health check), v1 UNKNOWN, or an address family other than TCP over IPv4/IPv6.
 */
export interface ProxyHeader {
  version: 1 | 2;
  source?: ProxiedAddress;
  destination?: ProxiedAddress;
  /** v2 only: the balancer reported (PP2_TYPE_SSL) that the client connected to it over TLS. */
  clientTls?: boolean;
}

export type ProxyParse = { state: 'incomplete' } | { state: 'invalid'; reason: string } | { state: 'complete'; header: ProxyHeader; length: number };

/** The v2 signature: \r\n\r\n\0\r\nQUIT\n */
export const PROXY_V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** The longest v1 line the specification allows, CRLF included. */
export const PROXY_V1_MAX_BYTES = 107;
/** A v2 header larger than this (addresses and TLVs) is refused; balancers send well under 1 KiB. */
export const PROXY_V2_MAX_BYTES = 2048;
const V2_FIXED = 16;
const PP2_TYPE_SSL = 0x20;
const PP2_CLIENT_SSL = 0x01;

/**
 * Parses a PROXY header at the start of `data` (the bytes received so far). Says `incomplete`
 * while more bytes are needed, and `invalid` as soon as the bytes cannot begin a valid header, so
 * a client that is not a balancer is turned away after its first packet.
 */
export function parseProxyHeader(data: Buffer): ProxyParse {
  if (startsLike(data, PROXY_V2_SIGNATURE)) return data.length < V2_FIXED ? incompleteOr(data) : parseV2(data);
  if (startsLike(data, V1_PREFIX)) return data.length < V1_PREFIX.length ? { state: 'incomplete' } : parseV1(data);
  return { state: 'invalid', reason: 'the connection did not start with a PROXY protocol header' };
}

function incompleteOr(data: Buffer): ProxyParse {
  // The version nibble is known from byte 13 on: reject a wrong one early.
  if (data.length > 12 && data[12]! >> 4 !== 2) return { state: 'invalid', reason: `PROXY protocol v2 header with version ${data[12]! >> 4}` };
  return { state: 'incomplete' };
}

/** Whether `data` and `prefix` agree on their common length. */
function startsLike(data: Buffer, prefix: Buffer): boolean {
  const n = Math.min(data.length, prefix.length);
  return data.subarray(0, n).equals(prefix.subarray(0, n));
}

function parseV1(data: Buffer): ProxyParse {
  const window = data.subarray(0, PROXY_V1_MAX_BYTES);
  const end = window.indexOf('\r\n', 0, 'latin1');
  if (end < 0) {
    if (data.length >= PROXY_V1_MAX_BYTES) return { state: 'invalid', reason: `PROXY protocol v1 line longer than ${PROXY_V1_MAX_BYTES} bytes` };
    // A bare LF or any byte outside printable ASCII can never become a valid line.
    for (const byte of window) if (byte !== 0x0d && (byte < 0x20 || byte > 0x7e)) return { state: 'invalid', reason: 'PROXY protocol v1 line with a control character' };
    return { state: 'incomplete' };
  }
  const length = end + 2;
  const fields = window.subarray(0, end).toString('latin1').split(' ');
  const bad = (why: string): ProxyParse => ({ state: 'invalid', reason: `malformed PROXY protocol v1 line: ${why}` });
  if (fields[1] === 'UNKNOWN') return { state: 'complete', header: { version: 1 }, length };
  if (fields.length !== 6) return bad('expected PROXY TCP4|TCP6 source destination source-port destination-port');
  const [, family, src, dst, srcPort, dstPort] = fields as [string, string, string, string, string, string];
  const isAddress = family === 'TCP4' ? isIPv4 : family === 'TCP6' ? isIPv6 : undefined;
  if (!isAddress) return bad(`unknown protocol "${family.slice(0, 16)}"`);
  if (!isAddress(src) || !isAddress(dst)) return bad(`addresses are not ${family === 'TCP4' ? 'IPv4' : 'IPv6'}`);
  const sourcePort = parsePort(srcPort);
  const destinationPort = parsePort(dstPort);
  if (sourcePort === undefined || destinationPort === undefined) return bad('ports must be decimal numbers from 0 to 65535');
  return { state: 'complete', header: { version: 1, source: { address: src, port: sourcePort }, destination: { address: dst, port: destinationPort } }, length };
}

function parsePort(text: string): number | undefined {
  if (!/^(0|[1-9]\d{0,4})$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}

function parseV2(data: Buffer): ProxyParse {
  const versionCommand = data[12]!;
  if (versionCommand >> 4 !== 2) return { state: 'invalid', reason: `PROXY protocol v2 header with version ${versionCommand >> 4}` };
  const command = versionCommand & 0x0f;
  if (command > 1) return { state: 'invalid', reason: `PROXY protocol v2 header with unknown command ${command}` };
  const familyTransport = data[13]!;
  const bodyLength = data.readUInt16BE(14);
  const length = V2_FIXED + bodyLength;
  if (length > PROXY_V2_MAX_BYTES) return { state: 'invalid', reason: `PROXY protocol v2 header of ${length} bytes (at most ${PROXY_V2_MAX_BYTES} accepted)` };
  if (data.length < length) return { state: 'incomplete' };
  const body = data.subarray(V2_FIXED, length);
  if (command === 0) return { state: 'complete', header: { version: 2 }, length };
  const family = familyTransport >> 4;
  const transport = familyTransport & 0x0f;
  let header: ProxyHeader = { version: 2 };
  let tlvStart = 0;
  if (family === 1 || family === 2) {
    const size = family === 1 ? 4 : 16;
    if (body.length < size * 2 + 4) return { state: 'invalid', reason: `PROXY protocol v2 ${family === 1 ? 'IPv4' : 'IPv6'} header too short for its addresses` };
    // Only TCP (STREAM) connections carry a client address this relay can use; others keep the socket's.
    if (transport === 1) {
      header = {
        version: 2,
        source: { address: formatAddress(body.subarray(0, size)), port: body.readUInt16BE(size * 2) },
        destination: { address: formatAddress(body.subarray(size, size * 2)), port: body.readUInt16BE(size * 2 + 2) },
      };
    }
    tlvStart = size * 2 + 4;
  } else if (family === 3) {
    tlvStart = Math.min(body.length, 216);
  } else if (family !== 0) {
    return { state: 'invalid', reason: `PROXY protocol v2 header with unknown address family ${family}` };
  }
  if (header.source && clientUsedTls(body.subarray(tlvStart))) header.clientTls = true;
  return { state: 'complete', header, length };
}

/** Walks the TLVs looking for PP2_TYPE_SSL; a malformed TLV ends the walk (TLVs are advisory). */
function clientUsedTls(tlvs: Buffer): boolean {
  let offset = 0;
  while (offset + 3 <= tlvs.length) {
    const type = tlvs[offset]!;
    const length = tlvs.readUInt16BE(offset + 1);
    const value = tlvs.subarray(offset + 3, offset + 3 + length);
    if (value.length !== length) return false;
    if (type === PP2_TYPE_SSL) return value.length >= 1 && (value[0]! & PP2_CLIENT_SSL) !== 0;
    offset += 3 + length;
  }
  return false;
}

function formatAddress(bytes: Buffer): string {
  if (bytes.length === 4) return [...bytes].join('.');
  // IPv4-mapped addresses keep the dotted form Node itself gives such peers (::ffff:10.0.0.1).
  if (bytes.subarray(0, 10).every((b) => b === 0) && bytes.readUInt16BE(10) === 0xffff) return `::ffff:${[...bytes.subarray(12)].join('.')}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  // The URL parser writes IPv6 in RFC 5952 form (longest zero run compressed, lower case).
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}
