import { ProxyPolicy, type ProxySetting } from '../../proxy/proxy-policy.js';
import type { Logger } from '../../util/logger.js';
import type { AuthResult } from '../authorizer.js';
import type { AccessRight } from '../namespace-model.js';
import { isSupportedAlgorithm, verifyJwsSignature } from './jws-algorithms.js';
import { decodeJwt, DEFAULT_MAX_JWT_BYTES, JwtFormatError, withoutBearer, type DecodedJwt } from './jwt-token.js';
import { DEFAULT_KEY_SET_TIMING, describeSource, KeySet, type KeySetTiming, type KeySource } from './key-set.js';
import { decideRoles, defaultRoleMapping, type RoleMapping } from './role-mapping.js';

/** Audiences of Microsoft Entra ID tokens for Azure Relay (resource `https://relay.azure.net`, scope `https://relay.azure.net//.default`). */
export const DEFAULT_JWT_AUDIENCES = ['https://relay.azure.net', 'https://relay.azure.net/'];
export const DEFAULT_CLOCK_SKEW_SECONDS = 300;

export interface JwtIssuer {
  /** The `iss` claim, exactly. */
  issuer: string;
  keys: KeySource;
}

export interface JwtAuthOptions {
  issuers: JwtIssuer[];
  /** Accepted `aud` values (exact strings); default DEFAULT_JWT_AUDIENCES. */
  audiences?: string[];
  /** Leeway for `exp` and `nbf`; default 300 s. */
  clockSkewSeconds?: number;
  roles?: RoleMapping;
  /** Tokens longer than this are refused before they are parsed; default 16 KiB. */
  maxTokenBytes?: number;
  timing?: Partial<KeySetTiming>;
  /** The proxy signing-key fetches go through; default: the environment's (HTTPS_PROXY, NO_PROXY; loopback direct). */
  proxy?: ProxySetting;
}

export interface JwtRequest {
  token: string;
  entity: string | undefined;
  right: AccessRight;
  now?: number;
}

const refuse = (status: 401 | 403, reason: string): AuthResult => ({ ok: false, status, reason });

/**
 * Verifies bearer tokens from the configured identity providers and maps their roles to the
 * relay's rights. The token is checked in this order: size, shape, algorithm, issuer, key, signature,
 * then the claims; claims are looked at only once the signature holds. Reasons never contain the
 * token or a claim value.
 */
export class JwtAuthorizer {
  private readonly sets = new Map<string, KeySet>();
  private readonly audiences: Set<string>;
  private readonly skew: number;
  private readonly roles: RoleMapping;
  private readonly maxTokenBytes: number;

  constructor(
    options: JwtAuthOptions,
    log: Logger,
  ) {
    const timing = { ...DEFAULT_KEY_SET_TIMING, ...options.timing };
    const proxy = ProxyPolicy.from(options.proxy);
    for (const issuer of options.issuers) this.sets.set(issuer.issuer, new KeySet(issuer.keys, timing, log, proxy));
    this.audiences = new Set(options.audiences ?? DEFAULT_JWT_AUDIENCES);
    this.skew = options.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS;
    this.roles = options.roles ?? defaultRoleMapping();
    this.maxTokenBytes = options.maxTokenBytes ?? DEFAULT_MAX_JWT_BYTES;
  }

  /**
   * Loads every issuer's keys. A key file that cannot be read fails the start; an issuer that
   * cannot be reached now is tried again when tokens arrive (at most once per minRefetchMs).
   */
  async start(): Promise<void> {
    await Promise.all(
      [...this.sets.values()].map(async (set) => {
        try {
          await set.start();
        } catch (err) {
          if (set.source.kind === 'file') throw err;
        }
      }),
    );
  }

  close(): void {
    for (const set of this.sets.values()) set.close();
  }

  /** Changes whenever an issuer's key set changes: admissions cached before were made with other keys. */
  get generation(): number {
    let sum = 0;
    for (const set of this.sets.values()) sum += set.generation;
    return sum;
  }

  keySet(issuer: string): KeySet | undefined {
    return this.sets.get(issuer);
  }

  async authorize(request: JwtRequest): Promise<AuthResult> {
    const raw = request.token.trim();
    if (raw.length > this.maxTokenBytes + 16) return refuse(401, `MalformedToken: the token is longer than ${this.maxTokenBytes} bytes`);
    let jwt: DecodedJwt;
    try {
      jwt = decodeJwt(withoutBearer(raw), this.maxTokenBytes);
    } catch (err) {
      return refuse(401, `MalformedToken: ${(err as JwtFormatError).message}`);
    }
    const { header, payload } = jwt;
    const alg = header.alg;
    if (alg === 'none' || typeof alg !== 'string') return refuse(401, 'InvalidSignature: unsigned tokens (alg "none") are not accepted');
    if (!isSupportedAlgorithm(alg)) return refuse(401, 'InvalidSignature: the token\'s algorithm is not supported (RS*, PS*, ES*)');
    if (header.crit !== undefined) return refuse(401, 'MalformedToken: the token has critical header parameters this relay does not understand');
    if (header.kid !== undefined && typeof header.kid !== 'string') return refuse(401, 'MalformedToken: the token\'s kid is not a string');
    const set = typeof payload.iss === 'string' ? this.sets.get(payload.iss) : undefined;
    if (!set) return refuse(401, 'InvalidIssuer: the token is not from an issuer this relay trusts');
    const kid = header.kid as string | undefined;
    const known = await set.candidatesFetching(kid);
    if (known.length === 0) {
      return refuse(401, set.size === 0 ? `UnknownKey: the issuer's signing keys are not available (${describeSource(set.source)})` : 'UnknownKey: the token is signed with a key the issuer does not publish');
    }
    const candidates = known.filter((k) => k.alg === undefined || k.alg === alg);
    if (candidates.length === 0) return refuse(401, 'InvalidSignature: the token\'s algorithm is not the one its key is for');
    if (!candidates.some((k) => verifyJwsSignature(alg, k.key, jwt.signingInput, jwt.signature))) {
      return refuse(401, 'InvalidSignature: the token has an invalid signature');
    }
    return this.checkClaims(payload, request);
  }

  private checkClaims(payload: Record<string, unknown>, request: JwtRequest): AuthResult {
    const now = request.now ?? Date.now() / 1000;
    const { exp, nbf, aud } = payload;
    if (typeof exp !== 'number' || !Number.isFinite(exp)) return refuse(401, 'MalformedToken: the token has no expiry (exp)');
    if (exp + this.skew < now) return refuse(401, 'ExpiredToken: the token has expired');
    if (nbf !== undefined && (typeof nbf !== 'number' || !Number.isFinite(nbf))) return refuse(401, 'MalformedToken: the token\'s nbf is not a number');
    if (typeof nbf === 'number' && nbf - this.skew > now) return refuse(401, 'TokenNotYetValid: the token is not valid yet (nbf)');
    const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
    if (!audiences.some((a) => typeof a === 'string' && this.audiences.has(a))) {
      return refuse(401, `InvalidAudience: the token is not for this relay (accepted audiences: ${[...this.audiences].join(', ')})`);
    }
    const { entity, right } = request;
    const roles = decideRoles(this.roles, payload, entity);
    if (!roles.anyRole) return refuse(403, `Unauthorized: the token has no role this relay maps to rights (claims ${this.roles.claims.join(', ')})`);
    if (!roles.rights.has(right)) {
      return refuse(403, entity === undefined ? `Unauthorized: the token's roles do not grant ${right} on the namespace` : `Unauthorized: the token's roles do not grant ${right} on "${entity}"`);
    }
    const scope = roles.namespaceRights.has(right) ? undefined : entity;
    return { ok: true, grant: { anonymous: false, scope, keyName: '', keyFingerprint: '', expiresAt: exp + this.skew } };
  }
}
