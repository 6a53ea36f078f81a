import type { EarlyBytes } from '../forwarding/early-bytes.js';
import type { TrackedConnection } from '../forwarding/lifecycle/tracked-connection.js';
import { connectionEndOf, type TunnelFailure } from './tunnel-failures.js';
import type { SenderEnd } from '../forwarding/sender-end.js';
import { openTunnel, TunnelError, type OpenedTunnel } from './open-tunnel.js';

/**
 * Opens a tunnel for a tracked connection (the client's first bytes following the envelope): the relay dial is reported to the observers, the ids the
 * two ends exchanged join the connection's fields, and a failure ends the connection with its reason.
 */
export async function openTracked(
  sender: SenderEnd,
  target: string,
  connection: TrackedConnection,
  signal?: AbortSignal,
  /** More fields for the failure line (the SOCKS5 reply sent). */
  onFailure?: (failure: TunnelFailure) => Record<string, string>,
  /** The client's bytes to send behind the envelope (released here either way). */
  early?: EarlyBytes,
): Promise<OpenedTunnel | undefined> {
  const started = Date.now();
  try {
    const tunnel = await openTunnel(sender, target, signal, early);
    // What went ahead behind the envelope is counted like the bytes the pump moves.
    if (early) connection.toRelay += early.release();
    connection.dialed(Date.now() - started, undefined);
    connection.update({ trackingId: tunnel.trackingId, bridgeId: tunnel.bridgeId, listenerId: tunnel.listenerId });
    return tunnel;
  } catch (err) {
    early?.release();
    if (!(err instanceof TunnelError)) throw err;
    if (err.trackingId) connection.update({ trackingId: err.trackingId });
    connection.dialed(Date.now() - started, err.failure);
    const extra = { failure: err.failure, ...onFailure?.(err.failure) };
    connection.end({ end: signal?.aborted ? 'shutdown' : connectionEndOf(err.failure), reason: err.message, extra });
    return undefined;
  }
}
