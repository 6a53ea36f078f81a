/** The relay's JSON the page reads (GET /$hybridge/v1/status; management API answers). */
export interface StatusView {
  node: string;
  time: string;
  startedAt: string;
  cluster: { nodes: string[]; redisUp: boolean } | null;
  hybridConnections: { name: string; requiresClientAuthorization: boolean; listeners: number; activeConnections: number; bytesToListener: number; bytesToSender: number }[];
  listeners: { hyco: string; listenerId: string; remote?: string; since: string; node: string }[];
  connections: { trackingId?: string; hyco: string; listenerId?: string; since: string; bytesToListener: number; bytesToSender: number }[];
  events: { seq: number; event: string; time: string; hyco?: string; listenerId?: string; trackingId?: string; reason?: string; status?: number; operation?: string; rule?: string }[];
}

export interface RuleView {
  name: string;
  rights: string[];
}

/** A scope is the namespace (undefined) or one hybrid connection. */
export type Scope = string | undefined;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const BASE = '/$hybridge/v1';

/** Calls the relay with the session's token in the Authorization header (never in a URL). */
export class RelayApi {
  constructor(private readonly token: string) {}

  status(eventsAfter: number): Promise<StatusView> {
    return this.call('GET', `/status?events=${eventsAfter}`) as Promise<StatusView>;
  }

  createHybridConnection(name: string, requiresClientAuthorization: boolean): Promise<unknown> {
    return this.call('PUT', `/hybridconnections/${encodeURIComponent(name)}`, { requiresClientAuthorization });
  }

  deleteHybridConnection(name: string): Promise<unknown> {
    return this.call('DELETE', `/hybridconnections/${encodeURIComponent(name)}`);
  }

  rules(scope: Scope): Promise<RuleView[]> {
    return this.call('GET', rulesPath(scope)) as Promise<RuleView[]>;
  }

  putRule(scope: Scope, name: string, rights: string[]): Promise<unknown> {
    return this.call('PUT', `${rulesPath(scope)}/${encodeURIComponent(name)}`, { rights });
  }

  deleteRule(scope: Scope, name: string): Promise<unknown> {
    return this.call('DELETE', `${rulesPath(scope)}/${encodeURIComponent(name)}`);
  }

  /** Renews a key; the answer (which holds the keys) is read and dropped, never shown. */
  async renewKey(scope: Scope, name: string, keyType: 'PrimaryKey' | 'SecondaryKey'): Promise<void> {
    await this.call('POST', `${rulesPath(scope)}/${encodeURIComponent(name)}/regeneratekeys`, { keyType }, false);
  }

  private async call(method: string, path: string, body?: unknown, parse = true): Promise<unknown> {
    const response = await fetch(`${BASE}${path}`, {
      method,
      headers: { Authorization: this.token, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
    });
    const text = await response.text();
    if (!response.ok) {
      let message = `${response.status} ${response.statusText}`;
      try {
        message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? message;
      } catch {
        // not JSON
      }
      throw new ApiError(response.status, message);
    }
    return parse && text ? (JSON.parse(text) as unknown) : undefined;
  }
}

function rulesPath(scope: Scope): string {
  return scope === undefined ? '/authorizationrules' : `/hybridconnections/${encodeURIComponent(scope)}/authorizationrules`;
}
