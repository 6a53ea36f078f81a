import { authorize, type AuthorizeRequest, type AuthResult } from './authorizer.js';
import type { NamespaceStore } from './namespace-store.js';
import { setNewest } from '../util/bounded-map.js';

const MAX_ENTRIES = 4096;

interface Entry {
  result: AuthResult & { ok: true };
  revision: number;
}

/**
 * authorize() with memory: a client that presents the same token again (every relayed HTTP request
 * carries one) is admitted without another HMAC. Only admissions are kept; an entry is used while
 * the namespace is at the revision it was checked against and the token has not expired, so a
 * renewed key, a changed rule or a deleted entity takes effect at once.
 */
export class AuthorizationCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly store: NamespaceStore) {}

  authorize(request: AuthorizeRequest): AuthResult {
    if (!request.token) return authorize(this.store, request);
    const key = `${request.right}\n${request.anonymousAllowed ? 1 : 0}\n${request.entity ?? ''}\n${request.token}`;
    const now = request.now ?? Date.now() / 1000;
    const hit = this.entries.get(key);
    if (hit && hit.revision === this.store.revision && hit.result.grant.expiresAt >= now) return hit.result;
    if (hit) this.entries.delete(key);
    const result = authorize(this.store, request);
    if (result.ok) setNewest(this.entries, key, { result, revision: this.store.revision }, MAX_ENTRIES);
    return result;
  }
}
