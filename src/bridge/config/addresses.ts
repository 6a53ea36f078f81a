import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { ValueError } from './config-error.js';

/**
 * Host and address checks. Nothing here resolves a name: host names are checked for syntax only and
 * resolved by the runtime when it binds or connects.
 */

/** Tells whether an IP literal belongs to this machine (loopback, wildcard or an interface address). */
export type LocalAddressCheck = (ip: string) => boolean;

/** Reads the interface list (a local system call, no network traffic). */
export const isLocalAddress: LocalAddressCheck = (ip) => {
  const address = normalizeIp(ip);
  if (isLoopback(address) || isWildcard(address)) return true;
  for (const list of Object.values(networkInterfaces())) {
    for (const info of list ?? []) if (normalizeIp(info.address) === address) return true;
  }
  return false;
};

/** `[::1]` → `::1`; other text unchanged. */
export function stripBrackets(text: string): string {
  return text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
}

export function isIpLiteral(text: string): boolean {
  return isIP(text) !== 0;
}

/** DNS names as Uri.CheckHostName accepts them: dot-separated labels of letters, digits, '-' and '_'. */
export function isDnsName(text: string): boolean {
  if (!text || text.length > 253) return false;
  const labels = text.endsWith('.') ? text.slice(0, -1).split('.') : text.split('.');
  return labels.every((l) => /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/.test(l));
}

/** A connect target (-T/-R/-H host, YAML Host): an IP literal or a DNS name. */
export function checkTargetHost(text: string): string {
  const host = stripBrackets(text);
  if (!host) throw new ValueError('the host is empty');
  if (isIpLiteral(host) || isDnsName(host)) return host;
  throw new ValueError(`"${text}" is not a valid host name or IP address (IPv6 addresses go in brackets, e.g. [::1])`);
}

/** HostName / RemoteHostName: informational, must be a DNS name. */
export function checkDnsHostName(text: string): string {
  if (isDnsName(text) && !isIpLiteral(text)) return text;
  throw new ValueError(`"${text}" is not a valid DNS host name`);
}

const WILDCARDS: Record<string, string> = { '0.0.0.0': '0.0.0.0', '::': '::', any: '0.0.0.0', '*': '0.0.0.0', anyv6: '::' };

/**
 * A local listener's address (-L bind_address, YAML BindAddress of a LocalForward): an IP literal of
 * this machine, a wildcard (`0.0.0.0`, `::`, `any`, `anyv6`, `*`), or a host name the runtime
 * resolves (README: `-L sql.corp.example.com:16161:db` with a hosts-file entry).
 */
export function checkListenAddress(text: string, isLocal: LocalAddressCheck): string {
  const address = stripBrackets(text);
  if (!address) throw new ValueError('the bind address is empty');
  const wildcard = WILDCARDS[address.toLowerCase()];
  if (wildcard) return wildcard;
  if (isIpLiteral(address)) return checkLocal(address, isLocal);
  if (isDnsName(address)) return address;
  throw new ValueError(`"${text}" is not a valid IP address or host name`);
}

/**
 * -b / global BindAddress, the source address of outbound connections: an IP literal of this machine,
 * `localhost`, or a wildcard. Host names other than localhost are refused rather than resolved here.
 */
export function checkSourceAddress(text: string, isLocal: LocalAddressCheck): string {
  const address = stripBrackets(text);
  if (!address) throw new ValueError('the bind address is empty');
  const wildcard = WILDCARDS[address.toLowerCase()];
  if (wildcard) return wildcard;
  if (address.toLowerCase() === 'localhost') return 'localhost';
  if (isIpLiteral(address)) return checkLocal(address, isLocal);
  throw new ValueError(`"${text}" must be an IP address of this machine or localhost`);
}

/**
 * Where a local listener binds: its own address, else loopback (`localhost`), or every interface
 * (undefined) when GatewayPorts allows remote clients.
 */
export function effectiveBindAddress(bindAddress: string | undefined, gatewayPorts: boolean): string | undefined {
  if (bindAddress !== undefined) return bindAddress;
  return gatewayPorts ? undefined : 'localhost';
}

function checkLocal(address: string, isLocal: LocalAddressCheck): string {
  if (!isLocal(address)) throw new ValueError(`${address} is not an address of this machine`);
  return address;
}

function normalizeIp(ip: string): string {
  const noZone = ip.split('%')[0] ?? ip;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(noZone);
  return (mapped ? mapped[1] : noZone).toLowerCase();
}

function isLoopback(ip: string): boolean {
  return ip === '::1' || /^127\./.test(ip);
}

function isWildcard(ip: string): boolean {
  return ip === '0.0.0.0' || ip === '::';
}
