import type { HybridConnectionOptions } from './connection-options.js';
import type { RequestHandler } from './http-dispatch.js';
import type { HybridConnectionStream } from './hybrid-connection-stream.js';
import type { AcceptHandler } from './accept-context.js';

export interface ListenerOptions extends HybridConnectionOptions {
  /** Sent as sb-hc-id; senders can route to it with Microsoft-Relay-AllowedListeners. */
  listenerId?: string;
  /** Extra headers on the control channel's handshake (e.g. Hybridge-Ports, protocol/port-announcement.ts). */
  headers?: Record<string, string>;
  acceptHandler?: AcceptHandler;
  requestHandler?: RequestHandler;
  /**
   * Control-channel pings: at least this often (default 30 s; 0 = no pings at all), and a channel
   * that answers nothing for keepAliveTimeoutMs (default: the interval) is dropped and reconnected.
   * Accepted connections ping at this interval too (as the .NET SDK's KeepAliveInterval does).
   */
  keepAliveIntervalMs?: number;
  keepAliveTimeoutMs?: number;
  /**
   * Stall detection (0 = off): the control channel is pinged every stallProbeIntervalMs (default
   * 2 s), and when a ping goes unanswered for stallTimeoutMs (default 1.5 s) a second control
   * channel is opened beside it. Once that one is up it takes over and the first is closed, so
   * accept commands no longer wait behind TCP's retransmission back-off on a channel that lived
   * through a network cut.
   */
  stallProbeIntervalMs?: number;
  stallTimeoutMs?: number;
  /**
   * While a control channel's TCP connection is not up, start a fresh attempt this often (default
   * 300 ms; 0 = leave it to the kernel, whose SYN retries come after 1, 3, 7, 15 s).
   */
  connectRetryMs?: number;
  /** Reconnect delays, the .NET SDK's by default: 0, 1, 2, 5, 10, 30 s (plus up to 20 % jitter). */
  reconnectDelaysMs?: number[];
  /** Connections accepted but not yet taken with acceptConnection() before new ones are refused (503). */
  maxPendingConnections?: number;
  /**
   * Stop (go offline with the error) after this many authorization failures (401/403) in a row,
   * which no retry fixes. Default: keep retrying, as the .NET SDK does.
   */
  maxAuthorizationFailures?: number;
}

export interface ListenerEvents {
  connecting: [];
  online: [];
  offline: [error?: Error];
  /** A ping went unanswered for stallTimeoutMs: a second control channel is being opened. */
  stalled: [silentMs: number];
  error: [error: Error];
  connection: [stream: HybridConnectionStream];
  /** A hybridge relay says the client connection with this id (RelayedHttpRequest.connectionId) closed. */
  clientConnectionClosed: [connectionId: string];
}

/** The .NET SDK's reconnect schedule (ConnectDelayIntervals): 0, 1, 2, 5, 10, 30 s, then 30 s on. */
export const DEFAULT_RECONNECT_DELAYS_MS: readonly number[] = Object.freeze([0, 1000, 2000, 5000, 10_000, 30_000]);
export const DEFAULT_KEEPALIVE_INTERVAL_MS = 30_000;
export const DEFAULT_STALL_PROBE_INTERVAL_MS = 2000;
export const DEFAULT_STALL_TIMEOUT_MS = 1500;
export const DEFAULT_CONNECT_RETRY_MS = 300;

