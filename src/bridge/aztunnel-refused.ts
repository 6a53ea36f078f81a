import type { ProtocolHandler } from '../forwarding/listener-end.js';
import { rejectAztunnelConnection } from '../forwarding/peer-refusals.js';
import { Rejection } from '../protocol/aztunnel-envelope.js';

/**
 * A bridge's relay listeners without --allow rules: aztunnel-style senders (first message a JSON
 * envelope naming host:port) are refused "target not allowed", with a log line that says how to
 * allow them.
 */
export const refuseAztunnelSenders: ProtocolHandler = async (stream, first, connection) => {
  connection.end({
    end: 'not-allowed',
    reason: 'aztunnel-style sender refused (target not allowed): this bridge serves aztunnel envelopes only for targets given with --allow host:port',
  });
  await rejectAztunnelConnection(stream, first, Rejection.TargetNotAllowed);
};
