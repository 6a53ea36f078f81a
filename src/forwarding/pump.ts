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

export interface PumpOptions {
  /**
   * Whether the relay-side peer carries half-close (default true). aztunnel ends do not: a Close
   * from us would end their whole tunnel and cut the reply still on its way. Towards such a peer
   * the local side's end is not passed on; the connection runs until the peer ends it, then the
   * local side gets everything the peer sent, its output is ended, and both are closed.
   */
  peerHalfClose?: boolean;
  /** Where the bytes are counted (a tracked connection); one addition per chunk. */
  meter?: ByteMeter;
}

/**
 * Copies bytes both ways between a local socket and a relayed stream, with backpressure in both
 * directions and half-close carried across: when one side ends its output, the other side's output
 * is ended and the opposite direction keeps flowing until it ends too. An error on either side
 * destroys both. Local sockets must allow half-open connections (allowHalfOpen: true). Bytes are
 * counted into `options.meter` (a tracked connection), one addition per chunk, where metrics read them.
 */
export function pump(local: Duplex, relayed: Duplex, options: PumpOptions = {}): Promise<PumpResult> {
  const halfClose = options.peerHalfClose ?? true;
  const meter = options.meter ?? { toRelay: 0, fromRelay: 0 };
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
      if (settled) return;
      if (err) return settle('local-error', err);
      localFinished = true;
      if (relayFinished) settle('closed');
    });
    finished(relayed, (err) => {
      if (settled) return;
      if (err) return settle('relay-error', err);
      relayFinished = true;
      if (localFinished) settle('closed');
    });
    if (!halfClose) {
      // The peer's end is the end of the connection: once its last byte is written locally (the
      // pipe below ends the local output), close our side of the relay and drop the local socket.
      relayed.once('end', () => {
        const done = () => {
          if (settled) return;
          relayed.end();
          settle('closed');
          local.destroy();
        };
        if (local.writableFinished) done();
        else local.once('finish', done);
      });
    }
    local.pipe(relayed, { end: halfClose });
    relayed.pipe(local);
  });
}
