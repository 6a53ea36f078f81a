import type { Socket } from 'node:net';
import type { HybridConnectionStream } from '../../client/index.js';
import { DialError } from '../../forwarding/dial.js';
import { pump } from '../../forwarding/pump.js';
import { encodePreambleReply, PreambleMode } from '../../protocol/azbridge-preamble.js';
import type { TcpRemoteBinding, UnixRemoteBinding } from '../config/index.js';
import { logConnectionEnd, logSetupFailure, pumpSummary, type ConnectionLabel } from '../connection-log.js';
import { refuseStream } from '../refuse.js';
import type { AzbridgeHandlerOptions } from './serve-azbridge.js';
import { describeTarget, dialStreamTarget } from './stream-target.js';

/**
 * Connects to the first target that answers (several targets share a port name in turn), replies
 * `01 00 00`, and pumps bytes both ways with half-close until both directions have ended. When no
 * target answers, replies `00 00 FD` with the failure code.
 */
export async function serveStreamTarget(
  stream: HybridConnectionStream,
  targets: (TcpRemoteBinding | UnixRemoteBinding)[],
  options: AzbridgeHandlerOptions,
  label: ConnectionLabel,
  startedAt: number,
): Promise<void> {
  let socket: Socket | undefined;
  let lastError: Error | undefined;
  for (const target of targets) {
    label.target = describeTarget(target);
    try {
      socket = await dialStreamTarget(target, options);
      break;
    } catch (err) {
      lastError = err as Error;
      options.log.debug({ relay: options.relayName, port: label.port, target: label.target, reason: lastError.message }, 'target did not answer');
    }
    if (stream.destroyed) break;
  }
  if (!socket) {
    const code = lastError instanceof DialError ? (lastError.code ?? 'connection_failed') : 'connection_failed';
    logSetupFailure(options.log, label, 'target-unreachable', lastError?.message ?? 'the sender went away', startedAt);
    await refuseStream(stream, encodePreambleReply({ kind: 'target-unreachable', reason: code }));
    return;
  }
  if (stream.destroyed) {
    socket.destroy();
    logSetupFailure(options.log, label, 'client-gone', 'the sender went away while the target was dialled', startedAt);
    return;
  }
  stream.write(encodePreambleReply({ kind: 'accepted', mode: PreambleMode.Stream }));
  options.log.debug({ relay: options.relayName, port: label.port, target: label.target, conn: stream.trackingId }, 'connection open');
  const result = await pump(socket, stream);
  logConnectionEnd(options.log, label, pumpSummary(result));
}
