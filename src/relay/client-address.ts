/**
 * Whom a connection is from. Behind a load balancer the socket's peer is the balancer; the relay
 * learns the client from the PROXY protocol header (when `--proxy-protocol` is on) or, only when
 * the peer is a `--trusted-proxy`, from `Forwarded: for=` (RFC 7239) or `X-Forwarded-For`. Every
 * use of a client's address in the relay (log lines, per-address limits and throttles, the
 * `remoteEndpoint` given to listeners) goes through `ClientAddresses`.
 */
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP, type Socket } from 'node:net';
import type { ProxiedAddress, ProxyHeader } from './proxy-protocol.js';

export type ClientAddress = ProxiedAddress;

/** Hops of a forwarding header looked at, from the right; a longer chain is cut there. */
const MAX_HOPS = 32;

export class ClientAddresses {
  private readonly trusted = new BlockList();
  private readonly anyTrusted: boolean;
  /** PROXY protocol sources, by the TCP connection's own address|port (also what a TLS socket on it reports). */
  private readonly proxied = new Map<string, ProxyHeader>();

  /** `trustedProxies`: CIDRs or single addresses, already checked with `parseTrustedProxy`. */
  constructor(trustedProxies: readonly string[] = []) {
    for (const text of trustedProxies) {
      const cidr = parseTrustedProxy(text);
      if (typeof cidr === 'string') throw new Error(cidr);
      this.trusted.addSubnet(cidr.address, cidr.prefix, cidr.family);
    }
    this.anyTrusted = trustedProxies.length > 0;
  }

  /** Records what the PROXY protocol header of `socket` said (forgotten when it closes). */
  setProxied(socket: Socket, header: ProxyHeader): void {
    const key = keyOf(socket);
    if (key === undefined || !header.source) return;
    this.proxied.set(key, header);
    socket.once('close', () => this.proxied.delete(key));
  }

  /** The connection's peer: the PROXY protocol source if there was one, else the socket's remote address. */
  peerOf(socket: Socket): ClientAddress {
    const key = keyOf(socket);
    const source = key === undefined ? undefined : this.proxied.get(key)?.source;
    return source ?? { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
  }

  /**
   * Whether the client reached the relay over TLS although this socket is plain: a balancer that
   * terminates TLS said so in its PROXY v2 header (PP2_TYPE_SSL), or a trusted proxy in
   * `Forwarded: proto=` / `X-Forwarded-Proto`.
   */
  tlsAtBalancer(req: IncomingMessage): boolean {
    const key = keyOf(req.socket);
    if (key !== undefined && this.proxied.get(key)?.clientTls) return true;
    if (!this.isTrusted(this.peerOf(req.socket).address)) return false;
    const forwarded = header(req, 'forwarded');
    const proto = forwarded !== undefined ? lastProto(forwarded) : splitList(header(req, 'x-forwarded-proto')).pop();
    return proto !== undefined && /^(https|wss)$/i.test(proto);
  }

  /** Whether `address` is inside a --trusted-proxy range. */
  isTrusted(address: string): boolean {
    if (!this.anyTrusted) return false;
    const family = isIP(address);
    return family !== 0 && this.trusted.check(address, family === 4 ? 'ipv4' : 'ipv6');
  }

  /**
   * The client of a request. A peer that is not a trusted proxy is the client, whatever its headers
   * say. A trusted one's `Forwarded` (or, without it, `X-Forwarded-For`) is read from the right:
   * the first address that is not itself a trusted proxy is the client; a hop that is not an address
   * (`unknown`, an obfuscated name, garbage) ends the walk at the hop before it. The port is the
   * one `Forwarded` gives, or 0 when the header has none.
   */
  clientAddressOf(req: IncomingMessage): ClientAddress {
    const peer = this.peerOf(req.socket);
    if (!this.isTrusted(peer.address)) return peer;
    const forwarded = header(req, 'forwarded');
    const hops = forwarded !== undefined ? forwardedFor(forwarded) : splitList(header(req, 'x-forwarded-for'));
    let client = peer;
    for (const hop of hops.slice(-MAX_HOPS).reverse()) {
      const address = parseHop(hop);
      if (!address) break;
      client = address;
      if (!this.isTrusted(address.address)) break;
    }
    return client;
  }
}

export interface TrustedProxy {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** `10.0.0.0/8`, `fd00::/8`, `::ffff:10.0.0.0/104` or a single address; a reason string when it is none of these. */
export function parseTrustedProxy(text: string): TrustedProxy | string {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const family = isIP(address);
  if (family === 0) return `--trusted-proxy "${text.slice(0, 100)}" is not an IPv4 or IPv6 address or CIDR (e.g. 10.0.0.0/8, fd00::/8)`;
  const max = family === 4 ? 32 : 128;
  const prefixText = slash < 0 ? String(max) : text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) return `--trusted-proxy "${text.slice(0, 100)}": the prefix length must be from 0 to ${max}`;
  return { address, prefix: Number(prefixText), family: family === 4 ? 'ipv4' : 'ipv6' };
}

function keyOf(socket: Socket): string | undefined {
  return socket.remoteAddress === undefined ? undefined : `${socket.remoteAddress}|${socket.remotePort}`;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function splitList(value: string | undefined): string[] {
  return value === undefined ? [] : value.split(',').map((s) => s.trim());
}

/** The `for=` value of each element of a Forwarded header (an element without one is a hop we cannot place: ''). */
function forwardedFor(value: string): string[] {
  return value.split(',').map((element) => {
    for (const pair of element.split(';')) {
      const eq = pair.indexOf('=');
      if (eq < 0 || pair.slice(0, eq).trim().toLowerCase() !== 'for') continue;
      const raw = pair.slice(eq + 1).trim();
      return raw.startsWith('"') && raw.endsWith('"') && raw.length >= 2 ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
    }
    return '';
  });
}

/** The `proto=` of the last element of a Forwarded header that has one (the hop nearest the relay). */
function lastProto(value: string): string | undefined {
  for (const element of value.split(',').reverse()) {
    const match = /(?:^|;)\s*proto\s*=\s*"?([A-Za-z][A-Za-z0-9+.-]*)"?\s*(?:;|$)/i.exec(element.trim());
    if (match) return match[1];
  }
  return undefined;
}

/** `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`, `[2001:db8::1]`, `[2001:db8::1]:4711`; anything else is undefined. */
function parseHop(text: string): ClientAddress | undefined {
  if (text.length > 64) return undefined;
  const bracketed = /^\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?$/.exec(text);
  if (bracketed) return isIP(bracketed[1]!) === 6 ? withPort(bracketed[1]!, bracketed[2]) : undefined;
  if (isIP(text) !== 0) return { address: text, port: 0 };
  const v4 = /^([0-9.]+):(\d{1,5})$/.exec(text);
  if (v4 && isIP(v4[1]!) === 4) return withPort(v4[1]!, v4[2]);
  return undefined;
}

function withPort(address: string, port: string | undefined): ClientAddress | undefined {
  const n = port === undefined ? 0 : Number(port);
  return n <= 65535 ? { address, port: n } : undefined;
}

/** What a client the IP rules refuse is told: nothing about the rules, nor which one refused it. */
export const ADDRESS_REFUSED = 'Forbidden: this client is not allowed to connect to the namespace';
