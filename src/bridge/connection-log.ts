import type { PumpResult } from '../forwarding/pump.js';
import type { Logger } from '../util/logger.js';

/** Who a connection is, for its log lines. */
export interface ConnectionLabel {
  relay: string;
  port: string;
  /** Local side: the client's address. */
  client?: string;
  /** Remote side: the target it reached. */
  target?: string;
  /** The relayed connection's tracking id (shown with -v). */
  conn?: string;
}

/** How a connection ended, when it never got to pumping bytes. */
export type SetupFailure = 'relay-unavailable' | 'refused' | 'unknown-port' | 'target-unreachable' | 'bad-preamble' | 'client-gone' | 'shutdown';

/**
 * One line per finished connection: both byte counts (sent into the relay, received from it), the
 * duration and how it ended. The tracking id is added at -v (debug), where it ties the line to the
 * per-connection detail lines.
 */
export function logConnectionEnd(log: Logger, label: ConnectionLabel, summary: ConnectionSummary): void {
  const fields = {
    ...base(log, label),
    sent: summary.sent,
    received: summary.received,
    ms: summary.ms,
    end: summary.end,
    ...(summary.datagrams ? { datagrams: summary.datagrams } : {}),
    ...(summary.error ? { reason: summary.error.message } : {}),
  };
  if (summary.end === 'closed' || summary.end === 'idle' || summary.end === 'shutdown') log.info(fields, 'connection ended');
  else log.warn(fields, 'connection failed');
}

export interface ConnectionSummary {
  /** Bytes sent into the relay. */
  sent: number;
  /** Bytes received from the relay. */
  received: number;
  ms: number;
  end: string;
  /** UDP: datagrams sent/received, e.g. "12/12". */
  datagrams?: string;
  error?: Error;
}

export function pumpSummary(result: PumpResult): ConnectionSummary {
  return { sent: result.bytesToRelay, received: result.bytesFromRelay, ms: result.durationMs, end: result.outcome, ...(result.error ? { error: result.error } : {}) };
}

/** One line for a connection that ended before any payload flowed. */
export function logSetupFailure(log: Logger, label: ConnectionLabel, end: SetupFailure, reason: string, startedAt: number): void {
  const fields = { ...base(log, label), sent: 0, received: 0, ms: Date.now() - startedAt, end, reason };
  if (end === 'client-gone' || end === 'shutdown') log.info(fields, 'connection ended');
  else log.warn(fields, 'connection failed');
}

function base(log: Logger, label: ConnectionLabel): Record<string, string> {
  const { conn, ...rest } = label;
  const fields: Record<string, string> = {};
  for (const [key, value] of Object.entries(rest)) if (value !== undefined) fields[key] = value;
  if (conn !== undefined && log.isLevelEnabled('debug')) fields.conn = conn;
  return fields;
}
