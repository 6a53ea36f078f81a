import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { ListenError } from '../../forwarding/local-listen.js';
import { effectiveBindAddress, type AddressFamily } from '../config/index.js';

export interface ListenAddress {
  /** IP literal, or undefined for every interface (IPv6 and IPv4). */
  host: string | undefined;
  /** A second loopback address that may be missing on this machine (no ::1): skipped if it fails. */
  optional: boolean;
}

/**
 * Where one local binding listens. Without an address it is loopback only, unless GatewayPorts (-g)
 * opens it to every interface. `localhost` means both loopback addresses (127.0.0.1 and, when the
 * machine has it, ::1), so clients reach it whichever one their resolver prefers. Host names are
 * resolved once, at start (README: a hosts-file name bound to a 127.x address).
 */
export async function listenAddresses(bindAddress: string | undefined, gatewayPorts: boolean, family: AddressFamily): Promise<ListenAddress[]> {
  const address = effectiveBindAddress(bindAddress, gatewayPorts);
  if (address === undefined) {
    if (family === 'inet') return [{ host: '0.0.0.0', optional: false }];
    if (family === 'inet6') return [{ host: '::', optional: false }];
    return [{ host: undefined, optional: false }];
  }
  if (address.toLowerCase() === 'localhost') {
    if (family === 'inet') return [{ host: '127.0.0.1', optional: false }];
    if (family === 'inet6') return [{ host: '::1', optional: false }];
    return [
      { host: '127.0.0.1', optional: false },
      { host: '::1', optional: true },
    ];
  }
  if (isIP(address)) return [{ host: address, optional: false }];
  try {
    const resolved = await lookup(address, { family: family === 'inet' ? 4 : family === 'inet6' ? 6 : 0 });
    return [{ host: resolved.address, optional: false }];
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // EAI_AGAIN is a resolver that did not answer now, not a name that is wrong.
    throw new ListenError(`bind address "${address}" does not resolve${code ? ` (${code})` : ''}; give an address of this machine`, code !== 'EAI_AGAIN');
  }
}

/** Errors that mean "this machine has no such address family/address", for optional addresses. */
export function isMissingAddress(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  const message = (error as Error).message ?? '';
  return code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT' || /is not an address of this machine|EAFNOSUPPORT|EADDRNOTAVAIL/.test(message);
}
