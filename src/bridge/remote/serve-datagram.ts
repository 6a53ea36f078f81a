import type { Socket as UdpSocket } from 'node:dgram';
import type { HybridConnectionStream } from '../../client/index.js';
import { DialError } from '../../forwarding/dial.js';
import { encodePreambleReply, PreambleMode } from '../../protocol/azbridge-preamble.js';
import type { UdpRemoteBinding } from '../config/index.js';
import { logConnectionEnd, logSetupFailure, type ConnectionLabel } from '../connection-log.js';
import { DatagramChannel } from '../datagram-channel.js';
import { refuseStream } from '../refuse.js';
import type { AzbridgeHandlerOptions } from './serve-azbridge.js';
import { describeTarget } from './stream-target.js';
import { openUdpTarget } from './udp-target.js';

/**
 * A UDP flow: a socket connected to the target, datagrams framed both ways over the relayed stream,
 * until either side closes or no datagram has passed for the idle time (4 minutes by default).
 */
export async function serveDatagramTarget(
  stream: HybridConnectionStream,
  targets: UdpRemoteBinding[],
  options: AzbridgeHandlerOptions,
  label: ConnectionLabel,
  startedAt: number,
): Promise<void> {
  let socket: UdpSocket | undefined;
  let lastError: Error | undefined;
  for (const target of targets) {
    label.target = describeTarget(target);
    try {
      socket = await openUdpTarget(target, options);
      break;
    } catch (err) {
      lastError = err as Error;
    }
  }
  if (!socket) {
    const code = lastError instanceof DialError ? (lastError.code ?? 'connection_failed') : 'connection_failed';
    logSetupFailure(options.log, label, 'target-unreachable', lastError?.message ?? 'no target', startedAt);
    await refuseStream(stream, encodePreambleReply({ kind: 'target-unreachable', reason: code }));
    return;
  }
  const udp = socket;
  await stream.sendMessage(encodePreambleReply({ kind: 'accepted', mode: PreambleMode.Datagram })).catch(() => undefined);
  options.log.debug({ relay: options.relayName, port: label.port, target: label.target, conn: stream.trackingId }, 'datagram flow open');
  await new Promise<void>((resolve) => {
    const channel = new DatagramChannel(stream, {
      idleMs: options.udpIdleMs,
      onDatagram: (payload) => sendQuietly(udp, payload),
      onEnd: (how, stats, error) => {
        udp.close();
        logConnectionEnd(options.log, label, {
          sent: stats.bytesSent,
          received: stats.bytesReceived,
          ms: stats.durationMs,
          end: how,
          datagrams: `${stats.datagramsSent}/${stats.datagramsReceived}`,
          ...(error ? { error } : {}),
        });
        resolve();
      },
    });
    udp.on('message', (message) => channel.send(message));
    // A connected UDP socket reports ICMP port-unreachable as an error; UDP may lose datagrams anyway.
    udp.on('error', (err) => options.log.debug({ relay: options.relayName, port: label.port, reason: err.message }, 'target socket error'));
  });
}

/** dgram throws when the socket has already closed; a datagram lost then is no error. */
function sendQuietly(socket: UdpSocket, payload: Buffer): void {
  try {
    socket.send(payload);
  } catch {
    // closed
  }
}
