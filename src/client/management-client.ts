import http from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import { createSasToken, normalizeAudience } from '../protocol/sas-token.js';
import { audienceEntityPath, endpointBase, type RelayEndpoint } from '../protocol/relay-endpoint.js';
import { proxyAgent } from '../proxy/proxy-agent.js';
import { ProxyError } from '../proxy/proxy-error.js';
import { ProxyPolicy, type ProxySetting } from '../proxy/proxy-policy.js';
import { sleep } from '../util/sleep.js';
import { collectBody } from '../util/collect-body.js';

/** The management API's path prefix on a hybridge relay (see src/relay/management-api.ts). */
const API_PREFIX = '/$hybridge/v1';
const TOKEN_LIFETIME_SECONDS = 3600;
const DEFAULT_TIMEOUT_MS = 30_000;
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/** A rule's key or a SAS token for one namespace; or the server-level admin key, for the namespaces themselves (createNamespace, ...). */
export type ManagementCredential = { keyName: string; key: string } | { sharedAccessSignature: string } | { adminKey: string };

/** A hosted namespace's own quotas (docs/namespaces.md). */
export interface NamespaceQuotas {
  maxConnections?: number;
  maxListenersPerHyco?: number;
  maxHybridConnections?: number;
  maxRulesPerScope?: number;
}

export interface ManagementClientOptions {
  endpoint: RelayEndpoint;
  credential: ManagementCredential;
  /** Extra trusted CA certificates (PEM), added to Node's built-in list. */
  ca?: string[];
  timeoutMs?: number;
  /**
   * How long a refused connection is retried before giving up, so a script can start the relay in
   * the background and manage it right away (nothing was sent, so a retry is safe). Default 3 s.
   */
  startupWaitMs?: number;
  /** The proxy to reach the relay through (see HybridConnectionOptions.proxy); default: the environment's. */
  proxy?: ProxySetting;
}

export interface HybridConnectionProps {
  requiresClientAuthorization?: boolean;
  userMetadata?: string;
  /** hybridge relays only: relayed-HTTP response deadline and longest pause in a streamed body, in ms; null goes back to the relay's default. */
  responseTimeoutMs?: number | null;
  responseIdleTimeoutMs?: number | null;
}

export type KeyType = 'PrimaryKey' | 'SecondaryKey';

export type IpAction = 'Allow' | 'Deny';

const NETWORK_RULE_SET_PATH = '/networkrulesets/default';

/** A rule scope: the namespace (undefined) or one hybrid connection. */
export type Scope = string | undefined;

/** The relay answered with an error status; `message` is the relay's own text (never holds a key). */
export class ManagementHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ManagementHttpError';
  }
}

/**
 * `tls`: the certificate was rejected; `handshake`: no TLS at all (often a plain-HTTP relay);
 * `proxy`: the proxy refused or could not be reached (`detail` says which, naming the proxy).
 */
export type NetworkFailure = 'refused' | 'dns' | 'tls' | 'handshake' | 'timeout' | 'reset' | 'proxy' | 'other';

/** No HTTP answer came back. */
export class ManagementNetworkError extends Error {
  constructor(
    readonly kind: NetworkFailure,
    /** A short description of the cause, e.g. "connection refused". */
    readonly detail: string,
    readonly baseUrl: string,
  ) {
    super(`${baseUrl}: ${detail}`);
    this.name = 'ManagementNetworkError';
  }
}

/** `ws://host:port/` → `http://host:port`, `sb://host[:port]/` → `https://host:port`. */
export function managementBaseUrl(endpoint: RelayEndpoint): string {
  return `${endpoint.secure ? 'https' : 'http'}://${endpointBase(endpoint)}`;
}

/** Calls a hybridge relay's management API with a Manage credential. */
export class ManagementClient {
  readonly baseUrl: string;
  private readonly proxy: ProxyPolicy;

  constructor(private readonly options: ManagementClientOptions) {
    this.baseUrl = managementBaseUrl(options.endpoint);
    this.proxy = ProxyPolicy.from(options.proxy);
  }

  listHybridConnections(): Promise<unknown> {
    return this.call('GET', '/hybridconnections');
  }

  getHybridConnection(name: string): Promise<unknown> {
    return this.call('GET', entityPath(name));
  }

  createHybridConnection(name: string, props: HybridConnectionProps): Promise<unknown> {
    return this.call('PUT', entityPath(name), props);
  }

  updateHybridConnection(name: string, props: HybridConnectionProps): Promise<unknown> {
    return this.call('PATCH', entityPath(name), props);
  }

  async deleteHybridConnection(name: string): Promise<void> {
    await this.call('DELETE', entityPath(name));
  }

  listRules(scope: Scope): Promise<unknown> {
    return this.call('GET', rulesPath(scope));
  }

  getRule(scope: Scope, rule: string): Promise<unknown> {
    return this.call('GET', rulePath(scope, rule));
  }

  /** Creates the rule, or replaces its rights when it exists. */
  putRule(scope: Scope, rule: string, rights: string[]): Promise<unknown> {
    return this.call('PUT', rulePath(scope, rule), { rights });
  }

  async deleteRule(scope: Scope, rule: string): Promise<void> {
    await this.call('DELETE', rulePath(scope, rule));
  }

  listKeys(scope: Scope, rule: string): Promise<unknown> {
    return this.call('POST', `${rulePath(scope, rule)}/keys`);
  }

  renewKey(scope: Scope, rule: string, keyType: KeyType, key?: string): Promise<unknown> {
    return this.call('POST', `${rulePath(scope, rule)}/regeneratekeys`, key === undefined ? { keyType } : { keyType, key });
  }

  /** The namespace's client IP rules (`az relay namespace network-rule-set show`). */
  getNetworkRuleSet(): Promise<unknown> {
    return this.call('GET', NETWORK_RULE_SET_PATH);
  }

  listNetworkRuleSets(): Promise<unknown> {
    return this.call('GET', '/networkrulesets');
  }

  /** Changes the default action and/or replaces the rules; what is left out stays. */
  updateNetworkRuleSet(changes: { defaultAction?: IpAction; ipRules?: { ipMask: string; action: IpAction }[] }): Promise<unknown> {
    return this.call('PATCH', NETWORK_RULE_SET_PATH, changes);
  }

  listIpRules(): Promise<unknown> {
    return this.call('GET', `${NETWORK_RULE_SET_PATH}/iprules`);
  }

  /** Adds a rule at `position` (1-based; default: last); answers the whole rule set. */
  addIpRule(ipMask: string, action: IpAction, position?: number): Promise<unknown> {
    return this.call('POST', `${NETWORK_RULE_SET_PATH}/iprules`, position === undefined ? { ipMask, action } : { ipMask, action, position });
  }

  removeIpRule(ipMask: string): Promise<unknown> {
    return this.call('DELETE', `${NETWORK_RULE_SET_PATH}/iprules/${encodeURIComponent(ipMask)}`);
  }

  /** Creates a hosted namespace (admin key); the answer holds its rootConnectionString. */
  createNamespace(name: string, limits?: NamespaceQuotas): Promise<unknown> {
    return this.call('PUT', `/namespaces/${encodeURIComponent(name)}`, limits ? { limits } : {});
  }

  listNamespaces(): Promise<unknown> {
    return this.call('GET', '/namespaces');
  }

  getNamespace(name: string): Promise<unknown> {
    return this.call('GET', `/namespaces/${encodeURIComponent(name)}`);
  }

  /** Deletes a hosted namespace and its data; its listeners and senders are cut at once. */
  deleteNamespace(name: string): Promise<unknown> {
    return this.call('DELETE', `/namespaces/${encodeURIComponent(name)}`);
  }

  /** The relay node's status (GET /$hybridge/v1/status): hybrid connections, listeners, connections, events after `eventsAfter`. */
  status(eventsAfter = 0): Promise<unknown> {
    return this.call('GET', `/status${eventsAfter > 0 ? `?events=${eventsAfter}` : ''}`);
  }

  private authorizationHeader(): Record<string, string> {
    const credential = this.options.credential;
    if ('adminKey' in credential) return { Authorization: `Bearer ${credential.adminKey}` };
    if ('sharedAccessSignature' in credential) return { ServiceBusAuthorization: credential.sharedAccessSignature };
    return { ServiceBusAuthorization: this.token(credential) };
  }

  private token(credential: { keyName: string; key: string }): string {
    const audience = normalizeAudience(this.options.endpoint.host, audienceEntityPath(this.options.endpoint, ''));
    return createSasToken(audience, credential.keyName, credential.key, Math.floor(Date.now() / 1000) + TOKEN_LIFETIME_SECONDS);
  }

  private async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const deadline = Date.now() + (this.options.startupWaitMs ?? 3000);
    for (;;) {
      try {
        return await this.callOnce(method, path, body);
      } catch (err) {
        if (!(err instanceof ManagementNetworkError) || err.kind !== 'refused' || Date.now() >= deadline) throw err;
        await sleep(200);
      }
    }
  }

  private callOnce(method: string, path: string, body?: unknown): Promise<unknown> {
    const { endpoint } = this.options;
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
    const headers: Record<string, string | number> = { Accept: 'application/json', ...this.authorizationHeader() };
    if (payload) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = payload.length;
    }
    const proxied = this.proxy.route(endpoint.host, endpoint.port, endpoint.secure) !== undefined;
    const agent = proxied ? proxyAgent(this.proxy, endpoint.secure) : false;
    const request: https.RequestOptions = { host: endpoint.host, port: endpoint.port, method, path: (endpoint.namespacePath ?? '') + API_PREFIX + path, headers, agent };
    if (endpoint.secure && this.options.ca && this.options.ca.length > 0) request.ca = [...rootCertificates, ...this.options.ca];
    const timeoutMs = this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS;

    return new Promise((resolve, reject) => {
      const req = (endpoint.secure ? https : http).request(request, (res) => {
        collectBody(
          res,
          MAX_RESPONSE_BYTES,
          (body) => {
            try {
              resolve(interpret(res.statusCode ?? 0, res.statusMessage ?? '', body.toString('utf8')));
            } catch (err) {
              reject(err as Error);
            }
          },
          () => req.destroy(new Error('the answer is too large')),
        );
        res.on('error', (err) => reject(networkError(err, this.baseUrl, timeoutMs)));
      });
      req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
      req.on('error', (err) => reject(networkError(err, this.baseUrl, timeoutMs)));
      req.end(payload);
    });
  }
}

function entityPath(name: string): string {
  // One URL segment per name: a '/' inside a hybrid connection name travels as %2F.
  return `/hybridconnections/${encodeURIComponent(name)}`;
}

function rulesPath(scope: Scope): string {
  return scope === undefined ? '/authorizationrules' : `${entityPath(scope)}/authorizationrules`;
}

function rulePath(scope: Scope, rule: string): string {
  return `${rulesPath(scope)}/${encodeURIComponent(rule)}`;
}

function interpret(status: number, statusMessage: string, text: string): unknown {
  if (status >= 200 && status < 300) {
    if (!text.trim()) return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new ManagementHttpError(status, 'BadResponse', 'the relay answered with something that is not JSON; is the Endpoint a hybridge relay?');
    }
  }
  let code = 'HttpError';
  let message = statusMessage || `HTTP ${status}`;
  try {
    const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    if (typeof parsed.error?.code === 'string') code = parsed.error.code;
    if (typeof parsed.error?.message === 'string') message = parsed.error.message;
  } catch {
    // Not one of the relay's JSON errors (a proxy, or not a hybridge relay): keep the status line.
  }
  throw new ManagementHttpError(status, code, message);
}

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REVOKED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

function networkError(err: Error, baseUrl: string, timeoutMs: number): ManagementNetworkError {
  if (err instanceof ManagementNetworkError) return err;
  if (err instanceof ProxyError) return new ManagementNetworkError('proxy', err.message, baseUrl);
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (code === 'ECONNREFUSED') return new ManagementNetworkError('refused', 'connection refused', baseUrl);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new ManagementNetworkError('dns', 'host name not found', baseUrl);
  if (code === 'ETIMEDOUT') return new ManagementNetworkError('timeout', `no answer within ${Math.round(timeoutMs / 1000)} s`, baseUrl);
  if (TLS_CODES.has(code)) return new ManagementNetworkError('tls', `TLS certificate rejected: ${certificateProblem(code)}`, baseUrl);
  if (code.startsWith('ERR_SSL_') || code === 'EPROTO') return new ManagementNetworkError('handshake', 'TLS handshake failed', baseUrl);
  if (code === 'ECONNRESET' || code === 'EPIPE') return new ManagementNetworkError('reset', 'the connection was closed before an answer arrived', baseUrl);
  return new ManagementNetworkError('other', code ? `${err.message} (${code})` : err.message, baseUrl);
}

function certificateProblem(code: string): string {
  switch (code) {
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
      return 'self-signed certificate';
    case 'CERT_HAS_EXPIRED':
      return 'certificate has expired';
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return 'the certificate is not for this host name';
    default:
      return 'unknown issuer';
  }
}
