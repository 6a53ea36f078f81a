import type { Socket } from 'node:net';
import { dialTcp, dialUnix } from '../../forwarding/dial.js';
import type { PoolBinding, TcpRemoteBinding, UnixRemoteBinding } from '../config/index.js';
import { outboundBinding, type OutboundOptions } from '../outbound-address.js';

/** Connects to a TCP or Unix-socket target; rejects with the forwarding layer's DialError. */
export function dialStreamTarget(target: TcpRemoteBinding | UnixRemoteBinding, options: OutboundOptions): Promise<Socket> {
  if (target.kind === 'unix') return dialUnix(target.path, options.connectTimeoutMs);
  const { localAddress, family } = outboundBinding(options);
  return dialTcp({ host: target.host, port: target.port, timeoutMs: options.connectTimeoutMs, localAddress, family });
}

/**
 * A TCP health check: connect within `timeoutMs` (from the -b source address, as connections do),
 * then close at once without sending anything.
 */
export async function probeStreamTarget(target: TcpRemoteBinding | UnixRemoteBinding, options: OutboundOptions, timeoutMs: number): Promise<void> {
  const socket = await dialStreamTarget(target, { ...options, connectTimeoutMs: timeoutMs });
  socket.on('error', () => undefined);
  socket.destroy();
}

export function describeTarget(target: PoolBinding): string {
  if (target.kind === 'unix') return `unix:${target.path}`;
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  return `${target.kind}:${host}:${target.port}`;
}
