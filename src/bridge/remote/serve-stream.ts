import type { HybridConnectionStream } from '../../client/index.js';
import { pump } from '../../forwarding/pump.js';
import { encodePreambleReply, PreambleMode } from '../../protocol/azbridge-preamble.js';
import { logConnectionEnd, logSetupFailure, pumpSummary, type ConnectionLabel } from '../connection-log.js';
import { refuseStream } from '../refuse.js';
import type { StreamBinding } from './port-table.js';
import type { AzbridgeHandlerOptions } from './serve-azbridge.js';
import { dialStreamTarget } from './stream-target.js';
import type { TargetPool } from './target-pool.js';

/**
 * Connects to a target of the port's pool (the next one when a target does not answer), replies
 * `01 00 00`, and pumps bytes both ways with half-close until both directions have ended. When no
 * target answers, or every target is down, replies `00 00 FD` with the reason.
 */
export async function serveStreamTarget(
  stream: HybridConnectionStream,
  pool: TargetPool<StreamBinding>,
  options: AzbridgeHandlerOptions,
  label: ConnectionLabel,
  startedAt: number,
): Promise<void> {
  const result = await pool.connect((target) => dialStreamTarget(target, options), () => stream.destroyed);
  if (!result.ok) {
    if (result.lastTarget) label.target = result.lastTarget;
    logSetupFailure(options.log, label, stream.destroyed ? 'client-gone' : 'target-unreachable', result.reason, startedAt);
    await refuseStream(stream, encodePreambleReply({ kind: 'target-unreachable', reason: result.code }));
    return;
  }
  const { member, value: socket } = result;
  label.target = member.label;
  try {
    if (stream.destroyed) {
      socket.destroy();
      logSetupFailure(options.log, label, 'client-gone', 'the sender went away while the target was dialled', startedAt);
      return;
    }
    stream.write(encodePreambleReply({ kind: 'accepted', mode: PreambleMode.Stream }));
    options.log.debug({ relay: options.relayName, port: label.port, target: label.target, conn: stream.trackingId }, 'connection open');
    const outcome = await pump(socket, stream);
    logConnectionEnd(options.log, label, pumpSummary(outcome));
  } finally {
    pool.release(member);
  }
}
