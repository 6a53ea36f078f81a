import type { Duplex } from 'node:stream';
import type { TrackedConnection } from './lifecycle/tracked-connection.js';
import { pump, type PumpOptions, type PumpResult } from './pump.js';

/**
 * pump() for a tracked connection: its bytes are counted into the connection, and when both
 * directions are over the connection ends with the pump's outcome (its one closing line).
 */
export async function pumpTracked(local: Duplex, relayed: Duplex, connection: TrackedConnection, options: Omit<PumpOptions, 'meter'> = {}): Promise<PumpResult> {
  const result = await pump(local, relayed, { ...options, meter: connection });
  connection.end({ end: result.outcome, ...(result.error ? { reason: result.error.message } : {}) });
  return result;
}
