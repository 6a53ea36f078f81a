/**
 * `-b/--bind` of the sender commands: `host:port`, `[v6]:port`, or `:port` for every interface
 * (as Go's net.Listen reads it). Port 0 picks a free port. `--gateway` keeps the port and binds
 * 0.0.0.0, as aztunnel does.
 */
import { isIP } from 'node:net';
import { hostProblem } from '../protocol/aztunnel-envelope.js';

export interface BindAddress {
  /** Undefined: every interface. */
  host: string | undefined;
  port: number;
}

export class BindAddressError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BindAddressError';
  }
}

export function parseBindAddress(text: string, gateway = false): BindAddress {
  const value = text.trim();
  const fail = (reason: string): never => {
    throw new BindAddressError(`--bind ${JSON.stringify(text)}: ${reason}`);
  };
  let host: string;
  let portText: string;
  if (value.startsWith('[')) {
    const close = value.indexOf(']');
    if (close < 0) fail('missing "]"');
    host = value.slice(1, close);
    if (isIP(host) !== 6) fail(`"${host}" is not an IPv6 address`);
    if (value[close + 1] !== ':') fail(`no port; write [${host}]:PORT`);
    portText = value.slice(close + 2);
  } else {
    const colon = value.lastIndexOf(':');
    if (colon < 0) fail(`no port; write ${value || '127.0.0.1'}:PORT (0 picks a free port)`);
    host = value.slice(0, colon);
    portText = value.slice(colon + 1);
    if (host.includes(':')) fail(`IPv6 addresses must be bracketed: [${host}]:${portText}`);
    if (host !== '' && host !== 'localhost') {
      const problem = hostProblem(host);
      if (problem) fail(problem);
    }
  }
  if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) > 65535) fail(`port "${portText}" is not a number from 0 to 65535`);
  const port = Number(portText);
  if (gateway) return { host: '0.0.0.0', port };
  return { host: host === '' ? undefined : host, port };
}

/** True when only this machine can reach the address. */
export function isLoopbackBind(address: BindAddress): boolean {
  const host = address.host;
  if (host === undefined) return false;
  return host === 'localhost' || host === '::1' || /^127\./.test(host) || /^::ffff:127\./i.test(host);
}
