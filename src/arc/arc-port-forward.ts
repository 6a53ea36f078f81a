/**
 * `arc port-forward`: every local connection becomes one Arc connection (fresh credentials, then the
 * relay) to the same machine port. When one cannot be opened, the client's connection is closed and
 * the one-line reason logged; the forwarder goes on serving.
 */
import type { Socket } from 'node:net';
import type { TrackedConnection } from '../forwarding/lifecycle/tracked-connection.js';
import { pumpTracked } from '../forwarding/pump-tracked.js';
import type { LocalConnectionHandler } from '../tunnel/local-tunnel-server.js';
import type { ArcConnector } from './arc-connector.js';
import { ArcDialError } from './arc-dial.js';
import { ArcSetupError } from './arm-failures.js';

export function arcPortForwardHandler(connector: ArcConnector, target: string): LocalConnectionHandler {
  return async (socket: Socket, connection: TrackedConnection, signal: AbortSignal) => {
    connection.update({ target });
    let stream;
    const started = Date.now();
    try {
      stream = await connector.open(signal);
    } catch (err) {
      if (!(err instanceof ArcSetupError || err instanceof ArcDialError)) throw err;
      connection.dialed(Date.now() - started, 'relay_failed');
      connection.end({ end: signal.aborted ? 'shutdown' : 'relay-unavailable', reason: err.message });
      socket.destroy();
      return;
    }
    connection.dialed(Date.now() - started, undefined);
    connection.update({ trackingId: stream.trackingId });
    if (socket.destroyed) {
      connection.end({ end: 'client-gone', reason: 'the client closed before the Arc connection was open' });
      stream.destroy();
      return;
    }
    connection.established({ arc: 'yes' }, 'info');
    await pumpTracked(socket, stream, connection);
  };
}
