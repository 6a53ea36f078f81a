/**
 * NO_PROXY: the destinations reached directly although a proxy is set. Entries are separated by
 * commas or spaces, and compared without DNS:
 *
 *   *                        every destination
 *   example.com              that host and every name under it (a leading "." or "*." means the same)
 *   10.1.2.3, ::1            that IP address (IPv6 with or without brackets)
 *   10.0.0.0/8, fd00::/8     every IP address in the range
 *   name:8443, [::1]:9350    as above, only on that port
 *
 * A host name entry never matches an IP address and the other way round: the relay's name is
 * matched as written in its URL.
 */
import { BlockList, isIP } from 'node:net';
import { ProxySettingsError } from './proxy-error.js';

interface Entry {
  port?: number;
  matches(host: string, family: 0 | 4 | 6): boolean;
}

const NAME = /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/;

export class NoProxyList {
  private constructor(
    private readonly entries: readonly Entry[],
    /** `*`: nothing goes through a proxy. */
    readonly all: boolean,
  ) {}

  static readonly EMPTY = new NoProxyList([], false);

  /** Parses a NO_PROXY value; `source` (the variable or option) starts every error message. */
  static parse(text: string | undefined, source: string): NoProxyList {
    const items = (text ?? '').split(/[\s,]+/).filter((item) => item.length > 0);
    if (items.length === 0) return NoProxyList.EMPTY;
    if (items.includes('*')) return new NoProxyList([], true);
    return new NoProxyList(items.map((item) => parseEntry(item.toLowerCase(), source)), false);
  }

  get isEmpty(): boolean {
    return !this.all && this.entries.length === 0;
  }

  /** True when a connection to `host` (a name or IP literal, brackets allowed) on `port` goes direct. */
  matches(host: string, port: number): boolean {
    if (this.all) return true;
    const bare = host.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
    const family = isIP(bare) as 0 | 4 | 6;
    return this.entries.some((entry) => (entry.port === undefined || entry.port === port) && entry.matches(bare, family));
  }
}

function parseEntry(item: string, source: string): Entry {
  const fail = (): never => {
    throw new ProxySettingsError(`${source}: "${item}" is not a host name, domain, IP address or CIDR range (optionally with :port), or *`);
  };
  if (item.includes('/')) return cidrEntry(item, fail);
  const { host, port } = splitPort(item, fail);
  const family = isIP(host);
  if (family !== 0) {
    const list = new BlockList();
    list.addAddress(host, family === 6 ? 'ipv6' : 'ipv4');
    return { port, matches: (target, targetFamily) => targetFamily !== 0 && list.check(target, targetFamily === 6 ? 'ipv6' : 'ipv4') };
  }
  const name = host.replace(/^\*?\./, '').replace(/\.$/, '');
  if (!NAME.test(name)) fail();
  return { port, matches: (target, targetFamily) => targetFamily === 0 && (target === name || target.endsWith(`.${name}`)) };
}

function cidrEntry(item: string, fail: () => never): Entry {
  const [address = '', prefixText = '', extra] = item.replace(/^\[([^\]]*)\]/, '$1').split('/');
  const family = isIP(address);
  const prefix = Number(prefixText);
  if (extra !== undefined || family === 0 || !/^\d+$/.test(prefixText) || prefix > (family === 6 ? 128 : 32)) fail();
  const list = new BlockList();
  list.addSubnet(address, prefix, family === 6 ? 'ipv6' : 'ipv4');
  return { matches: (target, targetFamily) => targetFamily !== 0 && list.check(target, targetFamily === 6 ? 'ipv6' : 'ipv4') };
}

/** `host:port`, `[v6]:port`, `[v6]`, a bare IPv6 literal, or a bare host. */
function splitPort(item: string, fail: () => never): { host: string; port?: number } {
  let host = item;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(item);
  if (bracketed) {
    [host, portText] = [bracketed[1]!, bracketed[2]];
    if (isIP(host) !== 6) fail();
  } else if (isIP(item) !== 6 && item.includes(':')) {
    const colon = item.lastIndexOf(':');
    [host, portText] = [item.slice(0, colon), item.slice(colon + 1)];
  }
  if (portText === undefined) return { host };
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) fail();
  return { host, port };
}
