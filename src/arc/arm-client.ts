/**
 * A small Azure Resource Manager client: JSON requests with a Microsoft Entra ID bearer token, a
 * timeout per request, a bound on the answer's size, and retries of what ARM itself calls
 * transient (429, 5xx, a dropped connection) until the caller's deadline. Answers of 400 and more
 * become ArmError with ARM's error code; what they mean for Arc is decided by the caller.
 */
import type { Agent } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { TokenProvider } from '../client/token-provider.js';
import { proxyAgent } from '../proxy/proxy-agent.js';
import { ProxyError } from '../proxy/proxy-error.js';
import { ProxyPolicy, type ProxySetting } from '../proxy/proxy-policy.js';
import { sleep } from '../util/sleep.js';
import { collectBody } from '../util/collect-body.js';

export interface ArmClientOptions {
  /** https://management.azure.com (no trailing slash). */
  endpoint: string;
  tokens: TokenProvider;
  /** Trusted certificates (PEM) for the ARM endpoint, instead of the system's. */
  ca?: string | string[];
  /** Per request; default 30 s. */
  requestTimeoutMs?: number;
  /** The proxy ARM is reached through (see HybridConnectionOptions.proxy); default: the environment's. */
  proxy?: ProxySetting;
}

export interface ArmRequest {
  method: 'GET' | 'PUT' | 'POST';
  /** The resource path, starting with '/'. */
  path: string;
  query: Record<string, string>;
  body?: unknown;
  /** Unix ms after which no further attempt starts. */
  deadline: number;
  signal?: AbortSignal;
}

/** ARM answered with an error status. `code` is ARM's error code (`AuthorizationFailed`, ...). */
export class ArmError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    /** Retry-After of a 429/503, in ms. */
    readonly retryAfterMs?: number,
  ) {
    super(`ARM answered ${status}${code ? ` ${code}` : ''}${detail ? `: ${detail}` : ''}`);
    this.name = 'ArmError';
  }
}

/** ARM could not be reached, or gave no usable answer in time. */
export class ArmUnreachableError extends Error {
  constructor(
    message: string,
    /** A dropped connection or a timeout, worth another attempt (a certificate problem is not). */
    readonly transient = false,
  ) {
    super(message);
    this.name = 'ArmUnreachableError';
  }
}

/** The Entra ID token for ARM could not be had. */
export class ArmTokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArmTokenError';
  }
}

const MAX_ANSWER_BYTES = 1024 * 1024;
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
const RETRY_DELAYS_MS = [1000, 2000, 4000, 5000];
const TRANSIENT_STATUS = new Set([408, 429, 500, 502, 503, 504]);
// A refused connection or an unknown name is a wrong --arm-endpoint, not worth waiting on.
const TRANSIENT_NETWORK = new Set(['ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN']);

export class ArmClient {
  private readonly agent: Agent;

  constructor(private readonly options: ArmClientOptions) {
    this.agent = proxyAgent(ProxyPolicy.from(options.proxy), true, { keepAlive: true });
  }

  get endpoint(): string {
    return this.options.endpoint;
  }

  /** The parsed JSON answer of a 2xx (undefined when it has no body). */
  async send(req: ArmRequest): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      let error: ArmError | ArmUnreachableError;
      try {
        return await this.once(req);
      } catch (err) {
        if (!(err instanceof ArmError || err instanceof ArmUnreachableError) || !isTransient(err)) throw err;
        error = err;
      }
      const retryAfter = error instanceof ArmError ? error.retryAfterMs : undefined;
      const wait = retryAfter ?? RETRY_DELAYS_MS[Math.min(attempt, RETRY_DELAYS_MS.length - 1)]!;
      if (req.signal?.aborted || Date.now() + wait >= req.deadline) throw error;
      await sleep(wait, req.signal);
    }
  }

  private async once(req: ArmRequest): Promise<unknown> {
    let token: string;
    try {
      token = (await this.options.tokens.getToken(this.options.endpoint)).token;
    } catch (err) {
      throw new ArmTokenError(`${(err as Error).message}; sign in (az login) or set the AZURE_* variables of a service principal or managed identity`);
    }
    const url = new URL(`${this.options.endpoint}${req.path}`);
    for (const [name, value] of Object.entries(req.query)) url.searchParams.set(name, value);
    const body = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body));
    const timeoutMs = Math.max(1000, Math.min(this.options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS, req.deadline - Date.now()));
    const answer = await exchange(url, {
      method: req.method,
      headers: {
        Authorization: `Bearer ${token}`,
        Accept: 'application/json',
        ...(body ? { 'Content-Type': 'application/json', 'Content-Length': String(body.length) } : { 'Content-Length': '0' }),
      },
      body,
      ca: this.options.ca,
      agent: this.agent,
      timeoutMs,
      signal: req.signal,
    });
    if (answer.status >= 400) throw armError(answer);
    if (answer.body.length === 0) return undefined;
    try {
      return JSON.parse(answer.body.toString('utf8')) as unknown;
    } catch {
      throw new ArmUnreachableError(`ARM answered ${answer.status} with a body that is not JSON`);
    }
  }
}

function isTransient(err: ArmError | ArmUnreachableError): boolean {
  return err instanceof ArmError ? TRANSIENT_STATUS.has(err.status) : err.transient;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

interface ExchangeOptions {
  method: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
  ca: string | string[] | undefined;
  agent: Agent;
  timeoutMs: number;
  signal: AbortSignal | undefined;
}

function exchange(url: URL, options: ExchangeOptions): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const where = url.host;
    const fail = (message: string, transient: boolean) => reject(new ArmUnreachableError(message, transient));
    const req = httpsRequest(url, { method: options.method, headers: options.headers, ca: options.ca, agent: options.agent, signal: options.signal, timeout: options.timeoutMs }, (res) => {
      collectBody(
        res,
        MAX_ANSWER_BYTES,
        (body) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }),
        () => {
          req.destroy();
          fail(`ARM at ${where} sent an answer larger than ${MAX_ANSWER_BYTES} bytes`, false);
        },
      );
      res.on('error', (err) => fail(`the answer from ARM at ${where} broke off (${err.message})`, true));
    });
    req.on('timeout', () => {
      req.destroy();
      fail(`ARM at ${where} did not answer within ${Math.round(options.timeoutMs / 1000)} s`, true);
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (options.signal?.aborted) return fail('aborted', false);
      if (err instanceof ProxyError) return fail(`cannot reach ARM at ${where}: ${err.message}`, err.transient);
      if (/certificate|self[- ]signed|CERT_/i.test(err.message)) {
        return fail(`cannot reach ARM at ${where}: its TLS certificate is not trusted (${err.message}); trust it with --ca or NODE_EXTRA_CA_CERTS`, false);
      }
      fail(`cannot reach ARM at ${where}: ${err.code ?? err.message}`, err.code !== undefined && TRANSIENT_NETWORK.has(err.code));
    });
    req.end(options.body);
  });
}

function armError(answer: Answer): ArmError {
  let code = '';
  let detail = '';
  try {
    const parsed = JSON.parse(answer.body.toString('utf8')) as { error?: { code?: unknown; message?: unknown } };
    if (typeof parsed.error?.code === 'string') code = parsed.error.code;
    if (typeof parsed.error?.message === 'string') detail = parsed.error.message;
  } catch {
    detail = answer.body.toString('utf8');
  }
  const retryAfter = Number(answer.headers['retry-after']);
  const honoured = (answer.status === 429 || answer.status === 503) && Number.isFinite(retryAfter) && retryAfter >= 0;
  return new ArmError(answer.status, code.slice(0, 100), oneLine(detail), honoured ? Math.min(retryAfter, 30) * 1000 : undefined);
}

/** ARM's messages can run over several lines; errors here are one line of at most 300 characters. */
function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 300 ? `${flat.slice(0, 300)}...` : flat;
}
