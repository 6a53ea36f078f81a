import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { classifyDialError } from '../../forwarding/dial-errors.js';
import { DialError, formatTarget } from '../../forwarding/dial.js';
import type { UdpRemoteBinding } from '../config/index.js';
import { outboundBinding, type OutboundOptions } from '../outbound-address.js';
import { clearTimer } from '../../util/clear-timer.js';

/**
 * A UDP socket connected to the target (azbridge's UdpClient.Connect), bound to the -b source
 * address when one is set. Rejects with a DialError when the host does not resolve or the socket
 * cannot be set up.
 */
export async function openUdpTarget(target: UdpRemoteBinding, options: OutboundOptions): Promise<UdpSocket> {
  const where = formatTarget(target.host, target.port);
  const { localAddress, family } = outboundBinding(options);
  let address: string;
  let version: number;
  try {
    const resolved = isIP(target.host) ? { address: target.host, family: isIP(target.host) } : preferIpv4(await withTimeout(lookup(target.host, { family, all: true }), options.connectTimeoutMs));
    address = resolved.address;
    version = resolved.family;
  } catch (err) {
    throw new DialError(where, classifyDialError(err), err as Error);
  }
  const socket = createSocket({ type: version === 6 ? 'udp6' : 'udp4' });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      const connect = () => socket.connect(target.port, address, () => {
        socket.off('error', reject);
        resolve();
      });
      if (localAddress !== undefined) socket.bind({ address: localAddress, port: 0 }, connect);
      else connect();
    });
  } catch (err) {
    socket.close();
    throw new DialError(where, classifyDialError(err), err as Error);
  }
  return socket;
}

/**
 * UDP has no happy-eyeballs fallback, so a name with both kinds of address (localhost) takes its
 * IPv4 address, as azbridge's IPv4 UdpClient does.
 */
function preferIpv4(addresses: { address: string; family: number }[]): { address: string; family: number } {
  const chosen = addresses.find((a) => a.family === 4) ?? addresses[0];
  if (!chosen) throw Object.assign(new Error('the name has no address'), { code: 'ENOTFOUND', syscall: 'getaddrinfo' });
  return chosen;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(Object.assign(new Error(`name lookup timed out after ${ms} ms`), { code: 'EAI_AGAIN', syscall: 'getaddrinfo' })), ms);
    promise.then(
      (value) => {
        clearTimer(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimer(timer);
        reject(err as Error);
      },
    );
  });
}
