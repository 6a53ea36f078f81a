import type { Socket } from 'node:net';
import { dialTcp, dialUnix } from '../../forwarding/dial.js';
import { outboundBinding, type OutboundOptions } from '../outbound-address.js';
import type { StreamTarget } from './port-table.js';

/** Connects to a TCP or Unix-socket target; rejects with the forwarding layer's DialError. */
export function dialStreamTarget(target: Exclude<StreamTarget, { kind: 'udp' }>, options: OutboundOptions): Promise<Socket> {
  if (target.kind === 'unix') return dialUnix(target.path, options.connectTimeoutMs);
  const { localAddress, family } = outboundBinding(options);
  return dialTcp({ host: target.host, port: target.port, timeoutMs: options.connectTimeoutMs, localAddress, family });
}

export function describeTarget(target: StreamTarget): string {
  if (target.kind === 'unix') return `unix:${target.path}`;
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  return `${target.kind}:${host}:${target.port}`;
}
