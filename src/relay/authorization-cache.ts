import { authorize, type AudiencePathOf, type AuthorizeRequest, type AuthResult } from './authorizer.js';
import type { JwtAuthorizer } from './jwt/jwt-authorizer.js';
import { isJwtCandidate } from './jwt/jwt-token.js';
import type { NamespaceStore } from './namespace-store.js';
import { setNewest } from '../util/bounded-map.js';

const MAX_ENTRIES = 4096;

interface Entry {
  result: AuthResult & { ok: true };
  revision: number;
  keys: number;
}

/**
 * The relay's one authorization check: SAS tokens against the namespace's rules, and, when the
 * relay trusts identity providers, their JWTs (`Bearer <jwt>` or the bare JWT, as Azure's SDKs send
 * it) against their keys and role mapping. Every gesture (listen, connect, HTTP, management,
 * health, renewToken) goes through here, so both kinds of token are held to the same rules.
 *
 * It has memory: a client that presents the same token again (every relayed HTTP request carries
 * one) is admitted without another signature check. Only admissions are kept; an entry is used
 * while the namespace is at the revision it was checked against, the issuers' key sets are
 * unchanged and the token has not expired, so a renewed key, a changed rule, a deleted entity or
 * a withdrawn signing key takes effect at once.
 */
export class AuthorizationCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly store: NamespaceStore,
    private readonly jwt?: JwtAuthorizer,
    /** Which audiences belong to the namespace (the default: every host, as a single-namespace relay). */
    private readonly audienceOf?: AudiencePathOf,
  ) {}

  async authorize(request: AuthorizeRequest): Promise<AuthResult> {
    const token = request.token;
    if (!token) return authorize(this.store, request, this.audienceOf);
    const key = `${request.right}\n${request.anonymousAllowed ? 1 : 0}\n${request.entity ?? ''}\n${token}`;
    const now = request.now ?? Date.now() / 1000;
    const keys = this.jwt?.generation ?? 0;
    const hit = this.entries.get(key);
    if (hit && hit.revision === this.store.revision && hit.keys === keys && hit.result.grant.expiresAt >= now) return hit.result;
    if (hit) this.entries.delete(key);
    const revision = this.store.revision;
    const isJwt = this.jwt !== undefined && !token.startsWith('SharedAccessSignature ') && isJwtCandidate(token);
    const result = isJwt ? await this.jwt!.authorize({ token, entity: request.entity, right: request.right, now: request.now }) : authorize(this.store, request, this.audienceOf);
    if (result.ok) setNewest(this.entries, key, { result, revision, keys }, MAX_ENTRIES);
    return result;
  }
}
