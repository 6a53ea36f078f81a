import type { Duplex } from 'node:stream';
import type { Logger } from '../util/logger.js';
import { pump, type PumpOptions, type PumpResult } from './pump.js';

/**
 * pump(), then the one log line every tunnel end writes when it is over: `{what} closed`, or
 * `{what} ended abruptly` with the outcome and reason. A listener counts bytes as to and from the
 * sender; a sender as sent and received.
 */
export async function pumpAndLog(local: Duplex, relayed: Duplex, log: Logger, fields: Record<string, unknown>, what: string, side: 'listener' | 'sender', options: PumpOptions = {}): Promise<PumpResult> {
  const result = await pump(local, relayed, options);
  const bytes = side === 'listener' ? { bytesToSender: result.bytesToRelay, bytesFromSender: result.bytesFromRelay } : { bytesSent: result.bytesToRelay, bytesReceived: result.bytesFromRelay };
  const end = { ...fields, ...bytes, durationMs: result.durationMs };
  if (result.outcome === 'closed') log.info(end, `${what} closed`);
  else log.info({ ...end, outcome: result.outcome, reason: result.error?.message }, `${what} ended abruptly`);
  return result;
}
