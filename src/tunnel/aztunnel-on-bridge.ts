import { randomUUID } from 'node:crypto';
import type { ProtocolHandler } from '../forwarding/listener-end.js';
import { Rejection } from '../protocol/aztunnel-envelope.js';
import { Allowlist } from '../tunnel/allowlist.js';
import { createAztunnelHandler, rejectAztunnelConnection } from '../tunnel/serve-aztunnel.js';

/**
 * What a bridge's relay listener does with aztunnel-style senders (first message: a JSON envelope
 * naming host:port). Without --allow rules they are refused ("target not allowed") with a log line
 * that says how to allow them; with rules, they are served like `hybridge relay-listener` does.
 */
export function aztunnelOnBridge(allow: readonly string[], options: { connectTimeoutMs: number }): ProtocolHandler {
  if (allow.length === 0) {
    return async (stream, first, connection) => {
      connection.end({
        end: 'not-allowed',
        reason: 'aztunnel-style sender refused (target not allowed): this bridge serves aztunnel envelopes only for targets given with --allow host:port',
      });
      await rejectAztunnelConnection(stream, first, Rejection.TargetNotAllowed);
    };
  }
  return createAztunnelHandler({
    allowlist: Allowlist.parse(allow),
    connectTimeoutMs: options.connectTimeoutMs,
    tcpKeepAliveMs: 0,
    listenerId: randomUUID(),
  });
}
