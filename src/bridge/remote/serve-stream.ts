import type { HybridConnectionStream } from '../../client/index.js';
import type { TrackedConnection } from '../../forwarding/lifecycle/tracked-connection.js';
import { pumpTracked } from '../../forwarding/pump-tracked.js';
import { encodePreambleReply, PreambleMode } from '../../protocol/azbridge-preamble.js';
import { refuseStream } from '../../forwarding/refuse-stream.js';
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
  connection: TrackedConnection,
): Promise<void> {
  const dialStarted = Date.now();
  const result = await pool.connect((target) => dialStreamTarget(target, options), () => stream.destroyed);
  if (!result.ok) {
    connection.dialed(Date.now() - dialStarted, result.dialCode);
    if (result.lastTarget) connection.update({ target: result.lastTarget });
    connection.end({ end: stream.destroyed ? 'client-gone' : 'target-unreachable', reason: result.reason });
    await refuseStream(stream, encodePreambleReply({ kind: 'target-unreachable', reason: result.code }));
    return;
  }
  connection.dialed(Date.now() - dialStarted, undefined);
  const { member, value: socket } = result;
  connection.update({ target: member.label });
  try {
    if (stream.destroyed) {
      socket.destroy();
      connection.end({ end: 'client-gone', reason: 'the sender went away while the target was dialled' });
      return;
    }
    stream.write(encodePreambleReply({ kind: 'accepted', mode: PreambleMode.Stream }));
    connection.established();
    await pumpTracked(socket, stream, connection);
  } finally {
    pool.release(member);
  }
}
