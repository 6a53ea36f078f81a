/**
 * `relay-sender port-forward <host:port>`: every local connection becomes one tunnel to the same
 * target. The client's first bytes follow the envelope without waiting for the listener's answer
 * (up to 64 KiB, kept for a retry; more waits in the socket); when the tunnel cannot be opened the
 * client's connection is closed and the reason is logged.
 */
import type { Socket } from 'node:net';
import { EarlyBytes } from '../forwarding/early-bytes.js';
import type { TrackedConnection } from '../forwarding/lifecycle/tracked-connection.js';
import { pumpTracked } from '../forwarding/pump-tracked.js';
import type { LocalConnectionHandler } from './local-tunnel-server.js';
import { openTracked } from './open-tracked.js';
import type { SenderEnd } from '../forwarding/sender-end.js';

export function portForwardHandler(sender: SenderEnd, target: string): LocalConnectionHandler {
  return async (socket: Socket, connection: TrackedConnection, signal: AbortSignal) => {
    connection.update({ target });
    const tunnel = await openTracked(sender, target, connection, signal, undefined, new EarlyBytes(socket));
    if (!tunnel) {
      socket.destroy();
      return;
    }
    if (socket.destroyed) {
      connection.end({ end: 'client-gone', reason: 'the client closed before the tunnel was open' });
      tunnel.stream.destroy();
      return;
    }
    connection.established({}, 'info');
    await pumpTracked(socket, tunnel.stream, connection, { peerHalfClose: tunnel.peerHalfClose });
  };
}
