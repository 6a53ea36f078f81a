import { isIP } from 'node:net';
import type { AddressFamily } from './config/index.js';

/** How remote forwarders connect out to their targets: -b source address and AddressFamily. */
export interface OutboundOptions {
  /** -b / BindAddress: an IP literal, `localhost`, or a wildcard (`0.0.0.0`, `::`). */
  sourceAddress?: string;
  addressFamily?: AddressFamily;
  /** Per-target connect limit. */
  connectTimeoutMs: number;
}

export interface OutboundBinding {
  localAddress?: string;
  family: 0 | 4 | 6;
}

/**
 * The source address and address family for one outbound connection. A source address fixes the
 * family (an IPv4 source cannot reach an IPv6 target); `localhost` means the loopback address of the
 * chosen family; wildcards leave the choice to the OS.
 */
export function outboundBinding(options: Pick<OutboundOptions, 'sourceAddress' | 'addressFamily'>): OutboundBinding {
  const preferred = familyNumber(options.addressFamily);
  const source = options.sourceAddress;
  if (source === undefined || source === '0.0.0.0' || source === '::') {
    if (source === '0.0.0.0' && preferred === 0) return { family: 4 };
    if (source === '::' && preferred === 0) return { family: 6 };
    return { family: preferred };
  }
  if (source === 'localhost') return preferred === 6 ? { localAddress: '::1', family: 6 } : { localAddress: '127.0.0.1', family: 4 };
  const version = isIP(source);
  return { localAddress: source, family: version === 6 ? 6 : 4 };
}

export function familyNumber(family: AddressFamily | undefined): 0 | 4 | 6 {
  return family === 'inet' ? 4 : family === 'inet6' ? 6 : 0;
}
