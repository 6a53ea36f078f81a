/**
 * The listener end of an aztunnel-style tunnel (reference aztunnel-and-peers.md §1.3.2): the sender's
 * first message is a JSON envelope naming `host:port`; the listener checks it against the allowlist,
 * connects, answers with one JSON response, and then carries bytes both ways, half-close included.
 *
 * Beyond aztunnel: the connection limit is answered at once with an explicit refusal ("listener at
 * capacity", code max_connections) instead of a rendezvous that hangs; names can be matched by their
 * addresses; half-close is carried end to end with senders that say they carry it (`half_close`),
 * and an aztunnel sender's end without a Close frame is a clean end, not an abrupt one.
 */
import { DialError } from '../forwarding/dial.js';
import type { ProtocolHandler } from '../forwarding/listener-end.js';
import { pumpTracked } from '../forwarding/pump-tracked.js';
import {
  acceptedResponse,
  capacityResponse,
  encodeConnectResponse,
  parseConnectEnvelope,
  Rejection,
  rejectedResponse,
} from '../protocol/aztunnel-envelope.js';
import { CloseCode } from '../protocol/websocket-frame.js';
import type { Allowlist } from './allowlist.js';
import { AZTUNNEL_MAX_MESSAGE_BYTES } from '../protocol/aztunnel-envelope.js';
import { ConnectionSlots } from './connection-slots.js';
import { answerAndClose } from '../forwarding/peer-refusals.js';
import { sendRelayMessage } from '../forwarding/relay-messages.js';
import { authorizeTarget, dialFirstReachable, systemLookup, type Lookup } from './target-access.js';

export interface AztunnelHandlerOptions {
  allowlist: Allowlist;
  /** `--connect-timeout`: dialing the target (and resolving it for the allowlist). */
  connectTimeoutMs: number;
  /** `--tcp-keepalive` on the target socket; 0 turns it off. */
  tcpKeepAliveMs: number;
  /** `--max-connections`, 0 = unlimited. Ignored when `slots` is given. */
  maxConnections?: number;
  /** Shared slots, when several handlers count against one limit. */
  slots?: ConnectionSlots;
  /** Sent back in every response (`listener_id`), for correlating logs across both ends. */
  listenerId: string;
  /** `--allow-resolve`: match host names by the addresses they resolve to. */
  resolveNames?: boolean;
  lookup?: Lookup;
}

export function createAztunnelHandler(options: AztunnelHandlerOptions): ProtocolHandler {
  const slots = options.slots ?? new ConnectionSlots(options.maxConnections ?? 0);
  const lookup = options.lookup ?? systemLookup;
  const { listenerId } = options;

  return async (stream, first, connection) => {
    stream.on('error', () => undefined); // failures are reported through pump() and the log
    connection.update({ listenerId });
    const parsed = parseConnectEnvelope(first.data);
    if (!parsed.ok) {
      connection.end({ end: 'bad-envelope', reason: `tunnel refused: ${parsed.rejection}${parsed.detail ? ` (${parsed.detail})` : ''}` });
      await answerAndClose(stream, rejectedResponse(parsed.rejection, undefined, listenerId));
      return;
    }
    const { envelope, address } = parsed;
    connection.update({ bridgeId: envelope.bridgeId, target: envelope.target });
    if (!slots.tryAcquire(stream)) {
      connection.end({ end: 'at-capacity', reason: `tunnel refused: listener at capacity (--max-connections ${slots.limit})` });
      await answerAndClose(stream, capacityResponse(listenerId));
      return;
    }
    try {
      const access = await authorizeTarget(options.allowlist, address, {
        resolveNames: options.resolveNames ?? false,
        lookup,
        timeoutMs: options.connectTimeoutMs,
      });
      if (!access.allowed) {
        connection.end({ end: 'not-allowed', reason: `tunnel refused: target not allowed${access.detail ? ` (${access.detail})` : ''}` });
        await answerAndClose(stream, rejectedResponse(Rejection.TargetNotAllowed, undefined, listenerId));
        return;
      }
      const dialStarted = Date.now();
      let socket;
      try {
        socket = await dialFirstReachable(access.dialHosts, { port: address.port, timeoutMs: options.connectTimeoutMs, keepAliveMs: options.tcpKeepAliveMs });
      } catch (err) {
        if (!(err instanceof DialError)) throw err;
        connection.dialed(Date.now() - dialStarted, err.code ?? 'unknown');
        connection.end({ end: 'target-unreachable', reason: `tunnel refused: connection failed: ${err.code ?? 'unknown'} (${err.cause.message})` });
        await answerAndClose(stream, rejectedResponse(Rejection.ConnectionFailed, err.code, listenerId));
        return;
      }
      const dialMs = Date.now() - dialStarted;
      connection.dialed(dialMs, undefined);
      if (stream.destroyed) {
        socket.destroy();
        connection.end({ end: 'client-gone', reason: 'the sender left while the target was being dialed' });
        return;
      }
      try {
        await sendRelayMessage(stream, encodeConnectResponse({ ...acceptedResponse(listenerId), halfClose: true }));
      } catch (err) {
        socket.destroy();
        connection.end({ end: 'client-gone', reason: `the sender left before the tunnel opened: ${(err as Error).message}` });
        return;
      }
      connection.established(() => ({ rule: access.rule, dialMs, targetAddress: `${socket.remoteAddress}:${socket.remotePort}` }), 'info');
      stream.setMaxOutgoingMessageBytes(AZTUNNEL_MAX_MESSAGE_BYTES);
      const peerHalfClose = envelope.halfClose === true;
      connection.update({ halfClose: peerHalfClose });
      // An aztunnel sender ends a tunnel by dropping its connection without a Close; the relay
      // reports that as 1001. From such a sender that is the end of its data, not a lost tunnel.
      if (!peerHalfClose) stream.treatCloseAsEnd(CloseCode.GoingAway);
      await pumpTracked(socket, stream, connection, { peerHalfClose });
    } finally {
      slots.release(stream);
    }
  };
}
