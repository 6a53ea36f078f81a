import { randomUUID } from 'node:crypto';
import { isSafeHeaderName, isSafeHeaderValue } from '../protocol/http-headers.js';
import { buildHybridConnectionUrl } from '../protocol/relay-endpoint.js';
import { clientConnection, openWebSocket } from '../websocket/client-handshake.js';
import { resolveConnection, type HybridConnectionOptions, type ResolvedConnection } from './connection-options.js';
import { RelayError, RelayTimeoutError } from './errors.js';
import { toRelayError } from './handshake-errors.js';
import { HybridConnectionStream, type StreamOptions } from './hybrid-connection-stream.js';
import { fetchToken } from './token-fetch.js';
import { sleep } from '../util/sleep.js';

export interface CreateConnectionOptions extends StreamOptions {
  /** Extra headers; the listener sees them in connectHeaders. */
  headers?: Record<string, string>;
  /** Appended to the hybrid connection's path; the listener sees it in the accept address. */
  pathSuffix?: string;
  /** Application query string, passed to the listener. */
  query?: string;
  protocols?: string[];
  trackingId?: string;
  /** Limit for one attempt (relay connect plus the listener's accept). Default: the operation timeout, at most 30 s. */
  attemptTimeoutMs?: number;
  /** Total time for retrying transient failures (no listener yet, relay busy). 0 = one attempt. Default 30 s. */
  retryBudgetMs?: number;
  signal?: AbortSignal;
  /** Route only to these listener ids (Microsoft-Relay-AllowedListeners). */
  allowedListeners?: string[];
  disallowedListeners?: string[];
  /** Called before each retry of a transient failure (no listener yet, relay busy), e.g. to show progress. */
  onRetry?: (retry: ConnectRetry) => void;
}

export interface ConnectRetry {
  /** Why the last attempt failed. */
  error: RelayError;
  /** 1 for the first retry. */
  retry: number;
  /** Time spent since createConnection() was called, and the whole budget. */
  elapsedMs: number;
  budgetMs: number;
}

const RETRY_DELAYS_MS = [100, 250, 500, 1000, 2000, 5000];
const DEFAULT_RETRY_BUDGET_MS = 30_000;

/**
 * The sending side of a hybrid connection (the .NET SDK's HybridConnectionClient): each
 * createConnection() is one relayed WebSocket to a listener, returned as a Duplex stream.
 */
export class HybridConnectionClient {
  readonly connection: ResolvedConnection;

  /** Options, or a connection string alone (with `entityPath` when it has no EntityPath), as the .NET SDK takes. */
  constructor(options: HybridConnectionOptions | string, entityPath?: string) {
    this.connection = resolveConnection(typeof options === 'string' ? { connectionString: options, entityPath } : options);
  }

  /** wss://host:port/$hc/path as the sender uses it (without token or action). */
  get address(): string {
    return buildHybridConnectionUrl(this.connection.endpoint, this.connection.entityPath, 'connect').replace(/\?.*$/, '');
  }

  /** Closes the pre-connected sockets; connections already made are not touched. */
  close(): void {
    this.connection.warm?.close();
  }

  async createConnection(options: CreateConnectionOptions = {}): Promise<HybridConnectionStream> {
    validateHeaders(options.headers ?? {});
    const budget = options.retryBudgetMs ?? DEFAULT_RETRY_BUDGET_MS;
    const started = Date.now();
    const deadline = started + budget;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.attempt(options, deadline, attempt === 0);
      } catch (err) {
        const error = toRelayError(err, 'sender', `connecting to "${this.connection.entityPath}"`, this.connection.endpoint);
        const wait = RETRY_DELAYS_MS[Math.min(attempt, RETRY_DELAYS_MS.length - 1)]! * (0.8 + Math.random() * 0.4);
        const remaining = deadline - Date.now();
        if (!error.transient || options.signal?.aborted || remaining <= 0) throw error;
        options.onRetry?.({ error, retry: attempt + 1, elapsedMs: Date.now() - started, budgetMs: budget });
        // The last wait is cut to what is left of the budget, so the final attempt comes at its
        // end rather than the budget being given up early (a listener arriving late still counts).
        await sleep(Math.min(wait, remaining), options.signal);
        if (options.signal?.aborted) throw new RelayTimeoutError('connect aborted');
      }
    }
  }

  private async attempt(options: CreateConnectionOptions, deadline: number, first: boolean): Promise<HybridConnectionStream> {
    const c = this.connection;
    const trackingId = options.trackingId ?? randomUUID();
    const headers: Record<string, string> = { ...options.headers };
    const token = c.tokenProvider ? (await fetchToken(c.tokenProvider, c.audience)).token : undefined;
    if (token !== undefined && !c.tokenInQuery) headers.ServiceBusAuthorization = token;
    if (options.allowedListeners) headers['Microsoft-Relay-AllowedListeners'] = options.allowedListeners.join(',');
    if (options.disallowedListeners) headers['Microsoft-Relay-DisallowedListeners'] = options.disallowedListeners.join(',');
    const url = buildHybridConnectionUrl(c.endpoint, c.entityPath, 'connect', { trackingId, pathSuffix: options.pathSuffix, query: options.query, token: c.tokenInQuery ? token : undefined });
    const perAttempt = options.attemptTimeoutMs ?? Math.min(c.operationTimeoutMs, 30_000);
    // The first attempt gets its full time (the listener may take a while to accept); retries only
    // what is left of the budget.
    const timeoutMs = first ? perAttempt : Math.max(1000, Math.min(perAttempt, deadline - Date.now()));
    let opened;
    try {
      opened = await openWebSocket(url, { headers, protocols: options.protocols, timeoutMs, signal: options.signal, tls: c.tls, proxy: c.proxy, warm: c.warm });
    } catch (err) {
      if (options.signal?.aborted) throw new RelayError('connect aborted');
      throw err;
    }
    const conn = clientConnection(opened);
    return new HybridConnectionStream(conn, { trackingId, protocol: opened.protocol }, opened.head, options);
  }
}

/** Header names and values with CR, LF or ':' (in names) are refused, as the .NET SDK does. */
function validateHeaders(headers: Record<string, string>): void {
  for (const [name, value] of Object.entries(headers)) {
    if (!isSafeHeaderName(name)) throw new RelayError(`invalid header name "${name}"`);
    if (!isSafeHeaderValue(value)) throw new RelayError(`header "${name}" has a line break in its value`);
  }
}
