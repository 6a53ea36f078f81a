/**
 * `arc port-forward`: every local connection becomes one Arc connection (fresh credentials, then the
 * relay) to the same machine port. When one cannot be opened, the client's connection is closed and
 * the one-line reason logged; the forwarder goes on serving.
 */
import type { Socket } from 'node:net';
import { pumpAndLog } from '../forwarding/pump-log.js';
import type { LocalConnectionHandler } from '../tunnel/local-tunnel-server.js';
import type { Logger } from '../util/logger.js';
import type { ArcConnector } from './arc-connector.js';
import { ArcDialError } from './arc-dial.js';
import { ArcSetupError } from './arm-failures.js';

export function arcPortForwardHandler(connector: ArcConnector, target: string, log: Logger): LocalConnectionHandler {
  return async (socket: Socket, signal: AbortSignal) => {
    const fields = { client: `${socket.remoteAddress}:${socket.remotePort}`, target };
    let stream;
    try {
      stream = await connector.open(signal);
    } catch (err) {
      if (!(err instanceof ArcSetupError || err instanceof ArcDialError)) throw err;
      log.warn(fields, err.message);
      socket.destroy();
      return;
    }
    if (socket.destroyed) {
      stream.destroy();
      return;
    }
    log.info(fields, 'Arc connection open');
    await pumpAndLog(socket, stream, log, fields, 'Arc connection', 'sender');
  };
}
