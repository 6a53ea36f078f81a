import type { AcceptContext, AcceptDecision, AcceptHandler } from '../../client/index.js';
import { headerValue } from '../../client/accept-context.js';
import { classifyDialError } from '../../forwarding/dial-errors.js';
import type { ConnectionLifecycle } from '../../forwarding/lifecycle/connection-lifecycle.js';
import type { TrackedConnection } from '../../forwarding/lifecycle/tracked-connection.js';
import { parseProtocolList } from '../../protocol/websocket-handshake.js';
import type { Logger } from '../../util/logger.js';
import { clientConnection, openWebSocket, WebSocketHandshakeError, WebSocketTimeoutError, type OpenedWebSocket } from '../../websocket/client-handshake.js';
import type { WsConnection } from '../../websocket/connection.js';
import type { HttpRemoteBinding } from '../config/index.js';
import { outboundBinding, type OutboundOptions } from '../outbound-address.js';
import { targetRequestHeaders } from './http-headers.js';
import { targetPath } from './http-target-path.js';
import { spliceWebSockets } from './websocket-splice.js';

export interface HttpWebSocketOptions extends Pick<OutboundOptions, 'sourceAddress' | 'addressFamily'> {
  relayName: string;
  log: Logger;
  lifecycle: ConnectionLifecycle;
  /** The next -H target (the same turn-taking as HTTP requests). */
  nextBinding(): HttpRemoteBinding | undefined;
}

/** The relay holds the client's upgrade while the target answers (30 s on a hybridge relay); .NET gives an accept 20 s. */
const TARGET_HANDSHAKE_MS = 20_000;

/** The client's handshake headers that belong to its hop: the target gets its own key, version and extensions (none). */
const HANDSHAKE_HEADERS = new Set(['sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions', 'sec-websocket-protocol', 'sec-websocket-accept']);

/**
 * -H and WebSockets: a WebSocket upgrade a client sent to the relay's HTTP address
 * (`ws(s)://relay/{hyco}/path`, accept context with `requestTarget`) opens a WebSocket to the target
 * (http → ws, https → wss) at the same path and query, confined to the target's base path as HTTP
 * requests are, with the client's headers minus hop-by-hop and handshake ones and the sub-protocols
 * it offered. Only once the target has said yes is the rendezvous accepted, with the sub-protocol the
 * target chose; a target that refuses (or cannot be reached) makes the client's upgrade fail with
 * that status (502 unreachable, 504 no answer in time). Messages then pass one for one both ways.
 *
 * Other accepts (`$hc` senders: azbridge, aztunnel, multiplexed sessions) are accepted as streams.
 */
export function createHttpUpgradeHandler(options: HttpWebSocketOptions): AcceptHandler {
  return (context) => (context.requestTarget === undefined ? true : upgrade(context, context.requestTarget, options));
}

async function upgrade(context: AcceptContext, requestTarget: string, options: HttpWebSocketOptions): Promise<AcceptDecision> {
  const { log, relayName } = options;
  const binding = options.nextBinding();
  if (!binding) {
    log.warn({ hyco: relayName, trackingId: context.trackingId, status: 501 }, 'WebSocket upgrade refused: no -H forwarder on this relay');
    return { statusCode: 501, statusDescription: `relay ${relayName} forwards TCP, not HTTP; add an -H forwarder to serve WebSockets` };
  }
  const path = targetPath(requestTarget, relayName, binding.path);
  const origin = `${binding.scheme === 'https' ? 'wss' : 'ws'}://${binding.host.includes(':') ? `[${binding.host}]` : binding.host}:${binding.port}`;
  if (path === undefined) {
    log.warn({ hyco: relayName, trackingId: context.trackingId, target: origin, status: 400 }, "WebSocket upgrade refused: the request path leaves the target's base path");
    return { statusCode: 400, statusDescription: `the request path leaves the target's base path ${binding.path}` };
  }
  let target: OpenedWebSocket | undefined;
  const cut: { relayed?: WsConnection } = {};
  const connection = options.lifecycle.open({
    role: 'listener',
    fields: { hyco: relayName, trackingId: context.trackingId, path, target: origin, via: 'websocket' },
    abort: () => {
      target?.socket.destroy();
      cut.relayed?.destroy();
    },
  });
  const started = Date.now();
  const { localAddress, family } = outboundBinding(options);
  try {
    target = await openWebSocket(`${origin}${path}`, {
      localAddress,
      family: family === 0 ? undefined : family,
      headers: targetHandshakeHeaders(context.connectHeaders),
      protocols: parseProtocolList(headerValue(context.connectHeaders, 'sec-websocket-protocol')),
      timeoutMs: TARGET_HANDSHAKE_MS,
      ...(binding.scheme === 'https' && { tls: { rejectUnauthorized: !binding.insecure } }),
    });
  } catch (err) {
    return refused(connection, err, origin, Date.now() - started);
  }
  connection.dialed(Date.now() - started);
  const opened = target;
  return {
    subProtocol: opened.protocol,
    onWebSocket: (relayed, head) => relay(connection, relayed, head, opened, cut),
    onFailed: (error) => {
      opened.socket.destroy();
      connection.end({ end: 'relay-error', reason: `the rendezvous failed: ${error.message}` });
    },
  };
}

function relay(connection: TrackedConnection, relayed: WsConnection, relayHead: Buffer, opened: OpenedWebSocket, cut: { relayed?: WsConnection }): void {
  const target = clientConnection(opened);
  cut.relayed = relayed;
  connection.established({ protocol: opened.protocol });
  spliceWebSockets(relayed, target, { relay: relayHead, target: opened.head }, (result) => {
    connection.fromRelay = result.bytesToTarget;
    connection.toRelay = result.bytesToRelay;
    const failed = result.relay.error ?? result.target.error;
    connection.end({ end: failed ? 'cut' : 'closed', ...(failed && { reason: failed.message }), extra: { clientClose: result.relay.code, targetClose: result.target.code } });
  });
}

function refused(connection: TrackedConnection, err: unknown, origin: string, ms: number): AcceptDecision {
  if (err instanceof WebSocketHandshakeError) {
    const status = err.statusCode >= 400 && err.statusCode <= 599 ? err.statusCode : 502;
    const description = status === err.statusCode ? err.statusMessage || 'refused by the target' : `the target answered ${err.statusCode} instead of 101`;
    connection.end({ end: 'refused', reason: `the target refused the WebSocket upgrade: ${err.statusCode} ${err.statusMessage}`.trim(), extra: { status } });
    return { statusCode: status, statusDescription: description };
  }
  const timedOut = err instanceof WebSocketTimeoutError;
  const code = classifyDialError(err);
  const reason = timedOut ? `no WebSocket handshake within ${TARGET_HANDSHAKE_MS} ms` : code ? code.replace(/_/g, ' ') : (err as Error).message;
  connection.dialed(ms, code ?? (timedOut ? 'timeout' : 'error'));
  connection.end({ end: timedOut ? 'timeout' : 'target-unreachable', reason, extra: { status: timedOut ? 504 : 502 } });
  return { statusCode: timedOut ? 504 : 502, statusDescription: `hybridge bridge could not reach ${origin}: ${reason}` };
}

/** The client's headers for the target: as for relayed HTTP requests (no Host, no hop-by-hop), and no handshake headers of its own hop. */
function targetHandshakeHeaders(connectHeaders: Record<string, string>): Record<string, string> {
  const headers = targetRequestHeaders(Object.entries(connectHeaders).flat());
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HANDSHAKE_HEADERS.has(name.toLowerCase())) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return out;
}
