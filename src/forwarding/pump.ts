import { finished, type Duplex } from 'node:stream';
import type { ByteMeter } from './lifecycle/tracked-connection.js';

export type PumpOutcome = 'closed' | 'local-error' | 'relay-error';

export interface PumpResult {
  /** Bytes read from the local side and sent into the relay. */
  bytesToRelay: number;
  /** Bytes that came from the relay and were written locally. */
  bytesFromRelay: number;
  durationMs: number;
  outcome: PumpOutcome;
  error?: Error;
}

/**
 * Copies bytes both ways between a local socket and a relayed stream, with backpressure in both
 * directions and half-close carried across: when one side ends its output, the other side's output
 * is ended and the opposite direction keeps flowing until it ends too. An error on either side
 * destroys both. Local sockets must allow half-open connections (allowHalfOpen: true). Bytes are
 * counted into `meter` (a tracked connection), one addition per chunk, where metrics read them.
 */
export function pump(local: Duplex, relayed: Duplex, meter: ByteMeter = { toRelay: 0, fromRelay: 0 }): Promise<PumpResult> {
  const started = Date.now();
  local.on('data', (chunk: Buffer) => (meter.toRelay += chunk.length));
  relayed.on('data', (chunk: Buffer) => (meter.fromRelay += chunk.length));
  return new Promise((resolve) => {
    let settled = false;
    let localFinished = false;
    let relayFinished = false;
    const settle = (outcome: PumpOutcome, error?: Error) => {
      if (settled) return;
      settled = true;
      if (error) {
        local.destroy();
        relayed.destroy(outcome === 'local-error' ? error : undefined);
      }
      resolve({ bytesToRelay: meter.toRelay, bytesFromRelay: meter.fromRelay, durationMs: Date.now() - started, outcome, ...(error ? { error } : {}) });
    };
    finished(local, (err) => {
      if (err) return settle('local-error', err);
      localFinished = true;
      if (relayFinished) settle('closed');
    });
    finished(relayed, (err) => {
      if (err) return settle('relay-error', err);
      relayFinished = true;
      if (localFinished) settle('closed');
    });
    local.pipe(relayed);
    relayed.pipe(local);
  });
}
