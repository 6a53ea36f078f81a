/**
 * The one vocabulary of connection log fields, shared by the relay, the bridge and the tunnel
 * commands (docs/operations.md, "Log fields"). Every per-connection log line uses these names, so
 * one connection can be followed across the relay's, the sender's and the listener's logs.
 */

/** Which process a connection is seen from: the relay server, a sender end or a listener end. */
export type ConnectionRole = 'relay' | 'sender' | 'listener';

/** A stream (TCP, Unix socket, tunnel, WebSocket), a UDP flow, or one relayed HTTP request. */
export type ConnectionKind = 'stream' | 'datagram' | 'http';

/**
 * How a connection ended (the `end` field, and the `result` label of the connection metrics).
 * The first group are normal ends, the rest are failures.
 */
export type ConnectionEnd =
  | 'closed'
  | 'idle'
  | 'shutdown'
  | 'client-gone'
  | 'local-error'
  | 'relay-error'
  | 'cut'
  | 'relay-unavailable'
  | 'refused'
  | 'unknown-port'
  | 'target-unreachable'
  | 'not-allowed'
  | 'bad-preamble'
  | 'bad-envelope'
  | 'at-capacity'
  | 'timeout';

const NORMAL_ENDS: ReadonlySet<ConnectionEnd> = new Set(['closed', 'idle', 'shutdown', 'client-gone']);

/** Whether an end is a normal one (logged as `connection ended` at info, counted as success). */
export function isNormalEnd(end: ConnectionEnd): boolean {
  return NORMAL_ENDS.has(end);
}

/**
 * Who a connection is. Every key here is a log field name; undefined ones are left out.
 * - hyco: the hybrid connection (azbridge's "relay name")
 * - port: the azbridge logical port name
 * - trackingId: the id the relay gives the connection (sb-hc-id), the same at all three
 * - listenerId: the listener's id (its control channel's sb-hc-id, or aztunnel's listener_id)
 * - bridgeId: aztunnel's per-tunnel id (the envelope's bridge_id)
 * - client: the local client's address (sender ends)
 * - target: what the listener end reached (host:port, unix:path, an HTTP origin)
 * - remote: the peer's address as the relay sees it
 * - namespace: the relay's hosted namespace (absent: the default namespace)
 */
export interface ConnectionFields {
  hyco?: string;
  namespace?: string;
  port?: string;
  trackingId?: string;
  listenerId?: string;
  bridgeId?: string;
  client?: string;
  target?: string;
  remote?: string;
  /** Anything else a command adds (user, rule, method, path...). */
  [extra: string]: string | number | boolean | undefined;
}

/** The fields that end a connection's one closing line. */
export interface EndFields {
  /** Bytes that flowed from the sender towards the listener. */
  bytesToListener: number;
  /** Bytes that flowed from the listener towards the sender. */
  bytesToSender: number;
  durationMs: number;
  end: ConnectionEnd;
  reason?: string;
}
