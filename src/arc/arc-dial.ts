/**
 * The relay leg of an Arc connection (reference aztunnel-and-peers.md §1.8): a sender WebSocket to
 * `wss://{namespaceName}.{namespaceNameSuffix}/$hc/{hybridConnectionName}` carrying the access key
 * in ServiceBusAuthorization, the Service-Configuration-Token, and `Microsoft-Guestgateway-Target:
 * localhost:{port}`. No envelope follows: the Arc agent on the machine connects to that port itself
 * and the bytes flow at once.
 *
 * Until the agent has registered with the relay (30-90 s after the endpoint is created) the relay
 * answers 404; this retries for a bounded time, saying on the progress callback what it waits for.
 */
import { HybridConnectionClient } from '../client/hybrid-connection-client.js';
import { RelayError, RelayHandshakeError } from '../client/errors.js';
import type { HybridConnectionStream } from '../client/hybrid-connection-stream.js';
import type { TokenProvider } from '../client/token-provider.js';
import { AZTUNNEL_MAX_MESSAGE_BYTES } from '../protocol/aztunnel-envelope.js';
import { formatDuration } from '../util/duration.js';
import { sleep } from '../util/sleep.js';
import type { ProxyPolicy } from '../proxy/proxy-policy.js';
import type { TlsClientOptions } from '../websocket/client-handshake.js';
import type { ArcRelayCredentials } from './arc-credentials.js';

export const GUEST_GATEWAY_TARGET_HEADER = 'Microsoft-Guestgateway-Target';
export const SERVICE_CONFIGURATION_TOKEN_HEADER = 'Service-Configuration-Token';

export interface ArcDialOptions {
  port: number;
  machineName: string;
  tls?: TlsClientOptions;
  proxy?: ProxyPolicy;
  /** When the whole wait started, and how long it may take (for the deadline and the progress text). */
  startedAt: number;
  totalMs: number;
  /** The endpoint was just created: say at once that the agent needs time. */
  justCreated: boolean;
  progress: (line: string) => void;
  signal?: AbortSignal;
}

/** The relay refused the connection, or the agent did not come within the wait. */
export class ArcDialError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArcDialError';
  }
}

const RETRY_DELAYS_MS = [1000, 2000, 4000, 5000];
const MAX_ATTEMPT_MS = 30_000;
/** Statuses that mean "no agent listening yet" or "relay busy". */
const WAITING_STATUS = new Set([404, 408, 429, 500, 502, 503, 504]);

export async function dialArcRelay(credentials: ArcRelayCredentials, options: ArcDialOptions): Promise<HybridConnectionStream> {
  const client = new HybridConnectionClient({
    endpoint: credentials.endpoint,
    entityPath: credentials.hybridConnectionName,
    tokenProvider: staticToken(credentials),
    tls: options.tls,
    proxy: options.proxy,
  });
  const headers: Record<string, string> = { [GUEST_GATEWAY_TARGET_HEADER]: `localhost:${options.port}` };
  if (credentials.serviceConfigurationToken) headers[SERVICE_CONFIGURATION_TOKEN_HEADER] = credentials.serviceConfigurationToken;
  const deadline = options.startedAt + options.totalMs;
  const progress = new WaitProgress(options);
  for (let attempt = 0; ; attempt++) {
    const remaining = deadline - Date.now();
    let reason: string;
    try {
      const stream = await client.createConnection({ headers, retryBudgetMs: 0, attemptTimeoutMs: Math.max(1000, Math.min(MAX_ATTEMPT_MS, remaining)), signal: options.signal });
      // The agent's message size limit is not documented; aztunnel's 32 KiB messages are known to work.
      stream.setMaxOutgoingMessageBytes(AZTUNNEL_MAX_MESSAGE_BYTES);
      return stream;
    } catch (err) {
      if (options.signal?.aborted) throw new ArcDialError('aborted');
      reason = waitingReason(err, options.machineName);
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new ArcDialError(
        `the Arc agent on ${options.machineName} did not accept a connection within ${formatDuration(options.totalMs)} (${reason}); check that the machine is connected (azcmagent show) and that its service configuration allows port ${options.port}`,
      );
    }
    progress.waiting(reason);
    // The last wait is cut to what is left, so the final attempt comes at the deadline: an agent
    // that registers late still counts.
    await sleep(Math.min(RETRY_DELAYS_MS[Math.min(attempt, RETRY_DELAYS_MS.length - 1)]!, left), options.signal);
  }
}

/** What the last attempt said when it is worth waiting on; throws ArcDialError when it is not. */
function waitingReason(err: unknown, machineName: string): string {
  if (err instanceof RelayHandshakeError) {
    const status = `${err.statusCode}${err.statusDescription ? ` ${err.statusDescription}` : ''}`;
    // 403 is left to the general case: it is also how a listener refuses a port.
    if (err.statusCode === 401) throw new ArcDialError(`the relay of ${machineName} refused the Arc credentials (${status}); they may have expired: try again`);
    if (WAITING_STATUS.has(err.statusCode)) return `relay answered ${status}`;
    throw new ArcDialError(`the relay of ${machineName} refused the connection (${status})`);
  }
  if (err instanceof RelayError && err.transient) return err.message;
  throw new ArcDialError(`cannot connect to the relay of ${machineName}: ${(err as Error).message}`);
}

function staticToken(credentials: ArcRelayCredentials): TokenProvider {
  const token = { token: credentials.accessKey, expiresAt: credentials.expiresAt ?? Date.now() + 3600_000 };
  return { getToken: async () => token };
}

/**
 * Progress lines while waiting: at once when the endpoint was just created, otherwise after a
 * quiet spell; then at a steady pace. Both scale with the wait so a short --timeout still reports.
 */
class WaitProgress {
  private nextAt: number;
  private readonly everyMs: number;

  constructor(private readonly options: ArcDialOptions) {
    this.everyMs = Math.min(15_000, Math.max(1000, Math.floor(options.totalMs / 4)));
    this.nextAt = options.justCreated ? 0 : options.startedAt + Math.min(10_000, this.everyMs);
  }

  waiting(reason: string): void {
    const now = Date.now();
    if (now < this.nextAt) return;
    this.nextAt = now + this.everyMs;
    const elapsed = formatDuration(Math.round((now - this.options.startedAt) / 1000) * 1000);
    const what = this.options.justCreated ? 'to register with its relay (this takes 30-90 s after the endpoint is created)' : 'to accept the connection';
    this.options.progress(`waiting for the Arc agent on ${this.options.machineName} ${what}: ${reason}; ${elapsed} of at most ${formatDuration(this.options.totalMs)}`);
  }
}
