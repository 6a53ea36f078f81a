import type { Socket as UdpSocket } from 'node:dgram';
import type { HybridConnectionStream } from '../../client/index.js';
import { encodePreambleReply, PreambleMode } from '../../protocol/azbridge-preamble.js';
import type { UdpRemoteBinding } from '../config/index.js';
import type { TrackedConnection } from '../../forwarding/lifecycle/tracked-connection.js';
import { DatagramChannel } from '../datagram-channel.js';
import { refuseStream } from '../../forwarding/refuse-stream.js';
import type { AzbridgeHandlerOptions } from './serve-azbridge.js';
import type { TargetPool } from './target-pool.js';
import { openUdpTarget } from './udp-target.js';

/**
 * A UDP flow: a socket connected to a target of the port's pool (each flow takes the next target in
 * turn, or the least busy one; no active health checks for UDP), datagrams framed both ways over the
 * relayed stream, until either side closes or no datagram has passed for the idle time (4 minutes by
 * default).
 */
export async function serveDatagramTarget(
  stream: HybridConnectionStream,
  pool: TargetPool<UdpRemoteBinding>,
  options: AzbridgeHandlerOptions,
  connection: TrackedConnection,
): Promise<void> {
  const result = await pool.connect((target) => openUdpTarget(target, options), () => stream.destroyed);
  if (!result.ok) {
    if (result.lastTarget) connection.update({ target: result.lastTarget });
    connection.end({ end: 'target-unreachable', reason: result.reason });
    await refuseStream(stream, encodePreambleReply({ kind: 'target-unreachable', reason: result.code }));
    return;
  }
  connection.update({ target: result.member.label });
  try {
    await carryFlow(stream, result.value, options, connection);
  } finally {
    pool.release(result.member);
  }
}

async function carryFlow(stream: HybridConnectionStream, udp: UdpSocket, options: AzbridgeHandlerOptions, connection: TrackedConnection): Promise<void> {
  await stream.sendMessage(encodePreambleReply({ kind: 'accepted', mode: PreambleMode.Datagram })).catch(() => undefined);
  connection.established({ mode: 'datagram' });
  await new Promise<void>((resolve) => {
    const channel = new DatagramChannel(stream, {
      idleMs: options.udpIdleMs,
      meter: connection,
      onDatagram: (payload) => sendQuietly(udp, payload),
      onEnd: (how, stats, error) => {
        udp.close();
        const extra = { datagrams: `${stats.datagramsSent}/${stats.datagramsReceived}`, ...(stats.dropped > 0 ? { dropped: stats.dropped } : {}) };
        connection.end({ end: how, ...(error ? { reason: error.message } : {}), extra });
        resolve();
      },
    });
    udp.on('message', (message) => channel.send(message));
    // A connected UDP socket reports ICMP port-unreachable as an error; UDP may lose datagrams anyway.
    udp.on('error', (err) => connection.debug({ reason: err.message }, 'target socket error'));
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
