/**
 * `relay-sender port-forward <host:port>`: every local connection becomes one tunnel to the same
 * target. Bytes the client sends before the tunnel is open wait in the socket; when the tunnel
 * cannot be opened the client's connection is closed and the reason is logged.
 */
import type { Socket } from 'node:net';
import { pumpAndLog } from '../forwarding/pump-log.js';
import type { Logger } from '../util/logger.js';
import type { LocalConnectionHandler } from './local-tunnel-server.js';
import { TunnelError, type TunnelSender } from './tunnel-sender.js';

export function portForwardHandler(sender: TunnelSender, target: string, log: Logger): LocalConnectionHandler {
  return async (socket: Socket, signal: AbortSignal) => {
    const client = `${socket.remoteAddress}:${socket.remotePort}`;
    let tunnel;
    try {
      tunnel = await sender.open(target, signal);
    } catch (err) {
      if (!(err instanceof TunnelError)) throw err;
      log.warn({ client, target, failure: err.failure }, err.message);
      socket.destroy();
      return;
    }
    if (socket.destroyed) {
      tunnel.stream.destroy();
      return;
    }
    const fields = { client, target, bridge_id: tunnel.bridgeId, listener_id: tunnel.listenerId };
    log.info(fields, 'tunnel open');
    await pumpAndLog(socket, tunnel.stream, log, fields, 'tunnel', 'sender', { peerHalfClose: tunnel.peerHalfClose });
  };
}
