import { randomUUID } from 'node:crypto';
import type { ProtocolHandlerFactory } from '../forwarding/listener-end.js';
import { Allowlist } from './allowlist.js';
import { createAztunnelHandler } from './serve-aztunnel.js';

/**
 * What a bridge's relay listeners do with aztunnel-style senders when `hybridge bridge` has --allow
 * rules: serve them like `hybridge relay-listener` does, for those targets only. (Without rules the
 * bridge refuses them itself.) Throws AllowlistError for a bad rule.
 */
export function aztunnelOnBridge(allow: readonly string[]): ProtocolHandlerFactory {
  const allowlist = Allowlist.parse(allow);
  return ({ connectTimeoutMs }) => createAztunnelHandler({ allowlist, connectTimeoutMs, tcpKeepAliveMs: 0, listenerId: randomUUID() });
}
