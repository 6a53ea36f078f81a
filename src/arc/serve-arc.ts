/**
 * The listener side of Azure Arc's relay protocol, for `relay-listener --arc-compatible`: a sender
 * whose upgrade carries `Microsoft-Guestgateway-Target: localhost:{port}` (as `arc connect` and
 * aztunnel's Arc mode send, reference aztunnel-and-peers.md §1.8) is connected to that port on this
 * machine at once, with no envelope, as the Arc agent does. Only ports in `--arc-ports` are reached;
 * other targets are refused before the rendezvous (the sender gets the status on its upgrade).
 *
 * The Service-Configuration-Token is not checked: it is signed by Azure for Azure's relay. Here the
 * relay's own SAS check decides who may connect, and the port list what they reach.
 */
import type { AcceptDecision } from '../client/hybrid-connection-listener.js';
import type { HybridConnectionStream } from '../client/hybrid-connection-stream.js';
import { DialError } from '../forwarding/dial.js';
import type { TrackedConnection } from '../forwarding/lifecycle/tracked-connection.js';
import { pumpTracked } from '../forwarding/pump-tracked.js';
import { AZTUNNEL_MAX_MESSAGE_BYTES } from '../protocol/aztunnel-envelope.js';
import { CloseCode } from '../protocol/websocket-frame.js';
import { parsePortPattern, portMatches, type PortPattern } from '../tunnel/allowlist.js';
import type { ConnectionSlots } from '../tunnel/connection-slots.js';
import { dialFirstReachable } from '../tunnel/target-access.js';
import type { Logger } from '../util/logger.js';
import { GUEST_GATEWAY_TARGET_HEADER } from './arc-dial.js';

/** What the listener does with senders that name a guest-gateway target. */
export interface ArcListenerEnd {
  /** Before the rendezvous: undefined for senders without the header, else accept or refuse. */
  admit(connectHeaders: Record<string, string>): AcceptDecision | undefined;
  /** True for a stream that belongs to serve(). */
  claims(stream: HybridConnectionStream): boolean;
  serve(stream: HybridConnectionStream, connection: TrackedConnection): Promise<void>;
}

export interface ArcListenerOptions {
  ports: ArcPortList;
  connectTimeoutMs: number;
  tcpKeepAliveMs: number;
  slots: ConnectionSlots;
  log: Logger;
}

export class ArcPortsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArcPortsError';
  }
}

export interface ArcPortList {
  text: string;
  allows(port: number): boolean;
}

/** `--arc-ports 22,6516,8000-8100` (or `*` for every port). */
export function parseArcPorts(text: string): ArcPortList {
  const patterns: PortPattern[] = [];
  for (const item of text.split(',').map((p) => p.trim())) {
    const pattern = parsePortPattern(item);
    if (typeof pattern === 'string') throw new ArcPortsError(`--arc-ports "${text}": ${item === '' ? 'an entry is empty' : pattern}`);
    patterns.push(pattern);
  }
  return { text, allows: (port) => patterns.some((p) => portMatches(p, port)) };
}

/** The port of a `localhost:{port}` target (127.0.0.1 and [::1] too), or why it is not one. */
export function parseGuestGatewayTarget(value: string): number | string {
  const m = /^(localhost|127\.0\.0\.1|\[::1\]):([0-9]{1,5})$/i.exec(value.trim());
  const port = m ? Number(m[2]) : 0;
  if (!m || port < 1 || port > 65535) return `${GUEST_GATEWAY_TARGET_HEADER} must be localhost:PORT`;
  return port;
}

export function createArcListenerEnd(options: ArcListenerOptions): ArcListenerEnd {
  const { log, slots } = options;
  const targetOf = (headers: Record<string, string> | undefined) => headerValue(headers ?? {}, GUEST_GATEWAY_TARGET_HEADER);

  return {
    admit(connectHeaders) {
      const target = targetOf(connectHeaders);
      if (target === undefined) return undefined;
      const port = parseGuestGatewayTarget(target);
      if (typeof port === 'string') {
        log.warn({ target: target.slice(0, 100) }, 'Arc connection refused: malformed target');
        return { statusCode: 400, statusDescription: port };
      }
      if (!options.ports.allows(port)) {
        log.warn({ port, allowed: options.ports.text }, 'Arc connection refused: port not in --arc-ports');
        return { statusCode: 403, statusDescription: `port ${port} is not allowed by the listener's --arc-ports` };
      }
      if (slots.isFull) return { statusCode: 503, statusDescription: 'listener at capacity' };
      return true;
    },

    claims: (stream) => targetOf(stream.info.connectHeaders) !== undefined,

    async serve(stream, connection) {
      stream.on('error', () => undefined);
      const port = parseGuestGatewayTarget(targetOf(stream.info.connectHeaders) ?? '');
      // admit() checked the target; a stream without a valid one never gets here, but stays refused.
      if (typeof port === 'string' || !options.ports.allows(port)) {
        connection.end({ end: 'not-allowed', reason: 'Arc connection refused: target not allowed' });
        return refuse(stream, 'target not allowed');
      }
      connection.update({ arcPort: port, target: `localhost:${port}` });
      if (!slots.tryAcquire(stream)) {
        connection.end({ end: 'at-capacity', reason: `Arc connection refused: listener at capacity (--max-connections ${slots.limit})` });
        return refuse(stream, 'listener at capacity');
      }
      try {
        let socket;
        const dialStarted = Date.now();
        try {
          socket = await dialFirstReachable(['127.0.0.1', '::1'], { port, timeoutMs: options.connectTimeoutMs, keepAliveMs: options.tcpKeepAliveMs });
        } catch (err) {
          if (!(err instanceof DialError)) throw err;
          connection.dialed(Date.now() - dialStarted, err.code ?? 'unknown');
          connection.end({ end: 'target-unreachable', reason: `Arc connection failed: cannot reach the local port: ${err.code ?? 'unknown'} (${err.cause.message})` });
          return refuse(stream, `cannot reach port ${port}`);
        }
        connection.dialed(Date.now() - dialStarted, undefined);
        connection.established({ arc: 'yes', targetAddress: `${socket.remoteAddress}:${socket.remotePort}` }, 'info');
        stream.setMaxOutgoingMessageBytes(AZTUNNEL_MAX_MESSAGE_BYTES);
        await pumpTracked(socket, stream, connection);
      } finally {
        slots.release(stream);
      }
    },
  };
}

/** No envelope to answer in: the refusal is the close code (not 1000, so the sender sees a failure, not an empty session). */
function refuse(stream: HybridConnectionStream, reason: string): void {
  if (!stream.destroyed) stream.close(CloseCode.InternalError, reason);
}

function headerValue(headers: Record<string, string>, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === lower) return v;
  return undefined;
}
