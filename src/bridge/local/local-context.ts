import type { Logger } from '../../util/logger.js';
import type { AddressFamily } from '../config/index.js';
import type { ConnectionLifecycle } from '../../forwarding/lifecycle/connection-lifecycle.js';
import type { SenderEnd } from '../../forwarding/sender-end.js';

/** What every listener of one LocalForward entry shares. */
export interface LocalContext {
  relayName: string;
  /** The sender end for a binding: anonymous for NoAuthentication bindings, with the relay token otherwise. */
  senderFor(noAuthentication: boolean): SenderEnd;
  gatewayPorts: boolean;
  addressFamily: AddressFamily;
  /** How long the remote side may take to answer the preamble (it dials its target first). */
  replyTimeoutMs: number;
  log: Logger;
  /** Every connection of the bridge is opened, counted and drained here. */
  lifecycle: ConnectionLifecycle;
  /** UDP flows end after this long without a datagram (default 4 minutes). */
  udpIdleMs?: number;
  /** UDP flows one UDP forwarder carries at once (MaxUdpFlows). */
  maxUdpFlows: number;
}

/** A running local listener (TCP, Unix socket or UDP). */
export interface LocalListener {
  /** Where it listens, for logs: `127.0.0.1:8080`, `/run/x.sock`, `udp:127.0.0.1:53`. */
  readonly addresses: string[];
  start(): Promise<void>;
  /** Stops taking new connections (or datagram flows); live ones carry on until drained. */
  stop(): Promise<void>;
}
