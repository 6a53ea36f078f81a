/**
 * How every sender end (bridge -L, relay-sender port-forward / socks5-proxy / connect) waits for a
 * relayed connection, so that they behave alike:
 *
 * - Failures no retry can fix fail the client's connection at once: the relay refuses the
 *   credentials (401/403), the hybrid connection does not exist, nothing listens at the relay's
 *   address (connection refused), its name does not resolve, or TLS fails.
 * - Transient failures (no listener online yet, the relay busy, a timeout, a reset) are retried
 *   for up to RELAY_WAIT_BUDGET_MS, with one log line saying what the sender waits for, then one
 *   every PROGRESS_EVERY_MS, then the failure.
 */
import type { ConnectRetry } from '../client/hybrid-connection-client.js';
import { EndpointNotFoundError, RelayHandshakeError, RelayTimeoutError, type RelayError } from '../client/errors.js';
import type { Logger } from '../util/logger.js';

/** aztunnel's sender budget; bridge -L uses it too unless ConnectionAttempts is set. */
export const RELAY_WAIT_BUDGET_MS = 30_000;
export const PROGRESS_EVERY_MS = 5000;

/** An onRetry callback for createConnection() that reports the wait. */
export function relayWaitProgress(log: Logger, fields: Record<string, unknown>, hyco: string, everyMs = PROGRESS_EVERY_MS): (retry: ConnectRetry) => void {
  let reportedAt = 0;
  return ({ error, retry, elapsedMs, budgetMs }) => {
    const now = Date.now();
    const what = waitingFor(error, hyco);
    if (retry === 1) {
      reportedAt = now;
      log.warn({ ...fields, reason: error.message }, `waiting for ${what}; retrying for up to ${seconds(budgetMs)} s`);
    } else if (now - reportedAt >= everyMs) {
      reportedAt = now;
      log.warn({ ...fields, reason: error.message }, `still waiting for ${what} (${seconds(elapsedMs)} s of ${seconds(budgetMs)} s)`);
    }
  };
}

function waitingFor(error: RelayError, hyco: string): string {
  if (error instanceof EndpointNotFoundError) return `a listener on "${hyco}" (none is online)`;
  if (error instanceof RelayTimeoutError) return `an answer from the relay or the listener of "${hyco}"`;
  if (error instanceof RelayHandshakeError) return `the relay (it answered ${error.statusCode})`;
  return 'the relay';
}

function seconds(ms: number): number {
  return Math.round(ms / 1000);
}
