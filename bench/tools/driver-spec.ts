/** What the bench asks the driver to do (one JSON argument) and what the driver prints (one JSON line). */
import type { Percentiles } from '../lib/stats.js';

export interface TcpEndpoint {
  host: string;
  port: number;
}

/** S1/S2: `streams` connections each moving `bytes` in one direction through the bulk target. */
export interface BulkSpec {
  mode: 'bulk';
  endpoint: TcpEndpoint;
  direction: 'upload' | 'download';
  bytes: number;
  streams: number;
  /** How the receiver checks the stream: byte for byte against the pattern, or by SHA-256. */
  check: 'compare' | 'sha256';
  /** SHA-256 of the `bytes`-byte pattern stream (for check 'sha256'). */
  expectSha256: string;
  timeoutMs: number;
}

/** S3: `count` sequential connect, 1-byte echo, close. */
export interface SetupSpec {
  mode: 'setup';
  endpoint: TcpEndpoint;
  count: number;
  /** Pause between connections (0 in the scenario; a diagnostic for prewarm pools that refill). */
  pauseMs?: number;
  timeoutMs: number;
}

/** S4/S5: many connections echoing messages at an interval through the echo target. */
export interface SessionsSpec {
  mode: 'sessions';
  endpoint: TcpEndpoint;
  connections: number;
  /** Connections opened at a time (0: all at once). */
  openBatch: number;
  helloBytes: number;
  messageBytes: number;
  intervalMs: number;
  durationMs: number;
  /** How long after the last send to wait for outstanding echoes. */
  drainMs: number;
  timeoutMs: number;
}

/** S6: keep-alive GETs from `clients` concurrent clients, then `largeCount` sequential large GETs. */
export interface HttpSpec {
  mode: 'http';
  /** Base URL the paths are appended to (e.g. http://127.0.0.1:P or https://127.0.0.1:R/hyco). */
  baseUrl: string;
  headers: Record<string, string>;
  clients: number;
  durationMs: number;
  smallSha256: string;
  largeCount: number;
  largeSha256: string;
  timeoutMs: number;
}

/** S7: 1,200-byte datagrams, `window` in flight, echoed by the UDP target. */
export interface UdpSpec {
  mode: 'udp';
  endpoint: TcpEndpoint;
  size: number;
  window: number;
  durationMs: number;
  lossTimeoutMs: number;
}

export type DriverSpec = BulkSpec | SetupSpec | SessionsSpec | HttpSpec | UdpSpec;

export type LatencySummary = Percentiles;

export interface DriverResultBase {
  /** The driver's own CPU time in seconds. */
  cpu?: { user: number; system: number };
  errors: number;
  /** The first few error descriptions. */
  errorSamples: string[];
}

export interface BulkResult extends DriverResultBase {
  mode: 'bulk';
  bytes: number;
  seconds: number;
  mbPerSecond: number;
  verified: number;
  /** Each verified stream's own rate (its bytes over its own connect-to-end time). */
  streamMbPerSecond?: number[];
}

export interface SetupResult extends DriverResultBase {
  mode: 'setup';
  completed: number;
  latencyMs: LatencySummary;
}

export interface SessionsResult extends DriverResultBase {
  mode: 'sessions';
  opened: number;
  /** From the first connect to the last connection's hello echo. */
  allUsableMs: number;
  /** From the first connect to the first connection's hello echo. */
  firstUsableMs: number;
  usableMs: LatencySummary;
  messagesSent: number;
  messagesEchoed: number;
  lost: number;
  latencyMs: LatencySummary;
  bytesEchoed: number;
}

export interface HttpResult extends DriverResultBase {
  mode: 'http';
  requests: number;
  requestsPerSecond: number;
  latencyMs: LatencySummary;
  large: LatencySummary;
}

export interface UdpResult extends DriverResultBase {
  mode: 'udp';
  sent: number;
  received: number;
  lost: number;
  late: number;
  lossPercent: number;
  datagramsPerSecond: number;
  rttMs: LatencySummary;
}

export type DriverResult = BulkResult | SetupResult | SessionsResult | HttpResult | UdpResult;
