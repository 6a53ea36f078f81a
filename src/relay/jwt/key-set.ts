import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Logger } from '../../util/logger.js';
import { ProxyPolicy } from '../../proxy/proxy-policy.js';
import { fetchBoundedText } from './fetch-json-text.js';
import { JwksError, parseJwks, type SigningKey } from './jwks.js';
import { clearTimer } from '../../util/clear-timer.js';

/** Where an issuer's signing keys come from. */
export type KeySource =
  | { kind: 'file'; path: string }
  | { kind: 'jwks'; url: string }
  /** OpenID Connect discovery: the document's `issuer` must be `issuer`; its `jwks_uri` holds the keys. */
  | { kind: 'discovery'; url: string; issuer: string };

export interface KeySetTiming {
  /** How often the keys are fetched again on the relay's own schedule. */
  refreshMs: number;
  /**
   * The least time between two fetches caused by tokens with an unknown key id: however many such
   * tokens arrive, the relay asks the issuer at most once per interval (per issuer).
   */
  minRefetchMs: number;
  fetchTimeoutMs: number;
}

export const DEFAULT_KEY_SET_TIMING: KeySetTiming = { refreshMs: 60 * 60_000, minRefetchMs: 60_000, fetchTimeoutMs: 5000 };
const MAX_DOCUMENT_BYTES = 512 * 1024;
/** Keys one token is checked against (sets that reuse a kid, or keys without one). */
const MAX_CANDIDATES = 3;

/** A description of a source for messages (no secrets in it: file paths and URLs only). */
export function describeSource(source: KeySource): string {
  return source.kind === 'file' ? source.path : source.url;
}

/**
 * One issuer's signing keys, cached. Fetched at start, again every `refreshMs`, and on a token
 * whose key id is not in the set (rotation) at most once per `minRefetchMs`; concurrent callers
 * share one fetch. A failed fetch keeps the last good set. A change of keys bumps `generation`, so
 * admissions cached under the old keys are checked again.
 */
export class KeySet {
  private keys: SigningKey[] = [];
  private inflight: Promise<void> | undefined;
  private lastFetchStarted = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;
  private fingerprint = '';
  generation = 0;
  /** Fetches started (scheduled, on demand and the first): lets tests count them. */
  fetches = 0;

  constructor(
    readonly source: KeySource,
    private readonly timing: KeySetTiming,
    private readonly log: Logger,
    /** The proxy key-set fetches go through (ProxyPolicy.from(undefined): the environment's). */
    private readonly proxy: ProxyPolicy = ProxyPolicy.DIRECT,
  ) {}

  /** Loads the keys once and starts the refresh schedule. Rejects when the first load fails. */
  async start(): Promise<void> {
    this.timer = setInterval(() => void this.refresh().catch(() => undefined), this.timing.refreshMs);
    this.timer.unref();
    await this.refresh();
  }

  close(): void {
    clearTimer(this.timer);
  }

  get size(): number {
    return this.keys.length;
  }

  /**
   * The keys a token with key id `kid` may be verified with (no kid: the set's only key, or its keys
   * without an id). At most MAX_CANDIDATES: a forged token never costs more signature checks than that.
   */
  candidates(kid: string | undefined): SigningKey[] {
    const matching = kid === undefined ? (this.keys.length === 1 ? this.keys : this.keys.filter((k) => k.kid === undefined)) : this.keys.filter((k) => k.kid === kid);
    return matching.slice(0, MAX_CANDIDATES);
  }

  /** candidates(), fetching the set again first when it has none and the last fetch is old enough. */
  async candidatesFetching(kid: string | undefined): Promise<SigningKey[]> {
    const known = this.candidates(kid);
    if (known.length > 0) return known;
    if (!this.inflight && Date.now() - this.lastFetchStarted < this.timing.minRefetchMs) return known;
    await this.refresh().catch(() => undefined);
    return this.candidates(kid);
  }

  /** Fetches the set (or joins the fetch under way); on failure the last good set stays. */
  refresh(): Promise<void> {
    this.inflight ??= this.load().finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  private async load(): Promise<void> {
    this.lastFetchStarted = Date.now();
    this.fetches++;
    const where = describeSource(this.source);
    try {
      const text = await this.document();
      const parsed = parseJwks(text, { allowSecret: this.source.kind === 'file' });
      const fingerprint = createHash('sha256').update(parsed.keys.map((k) => `${k.kid ?? ''}/${k.alg ?? ''}/${exportKey(k)}`).sort().join('\n')).digest('hex');
      if (fingerprint !== this.fingerprint) {
        this.fingerprint = fingerprint;
        this.keys = parsed.keys;
        this.generation++;
        this.log.info({ keys: where, count: parsed.keys.length, skipped: parsed.skipped || undefined, kids: parsed.keys.map((k) => k.kid ?? '(none)').join(',') }, 'JWT signing keys loaded');
      }
    } catch (err) {
      const reason = err instanceof JwksError ? `the key set is not usable: ${err.message}` : (err as Error).message;
      this.log.warn({ keys: where, reason, kept: this.keys.length }, this.keys.length ? 'could not refresh JWT signing keys; keeping the last good set' : 'could not load JWT signing keys');
      throw new Error(`${where}: ${reason}`);
    }
  }

  private async document(): Promise<string> {
    const { timing, source } = this;
    if (source.kind === 'file') return readFile(source.path, 'utf8');
    if (source.kind === 'jwks') return fetchBoundedText(source.url, MAX_DOCUMENT_BYTES, timing.fetchTimeoutMs, this.proxy);
    const text = await fetchBoundedText(source.url, MAX_DOCUMENT_BYTES, timing.fetchTimeoutMs, this.proxy);
    return fetchBoundedText(jwksUriOf(text, source.issuer), MAX_DOCUMENT_BYTES, timing.fetchTimeoutMs, this.proxy);
  }
}

/** The `jwks_uri` of an OpenID Connect discovery document, whose `issuer` must be the configured one. */
export function jwksUriOf(discoveryText: string, issuer: string): string {
  let doc: unknown;
  try {
    doc = JSON.parse(discoveryText);
  } catch {
    throw new JwksError('the OpenID configuration is not JSON');
  }
  const { issuer: docIssuer, jwks_uri: jwksUri } = (typeof doc === 'object' && doc !== null ? doc : {}) as { issuer?: unknown; jwks_uri?: unknown };
  if (docIssuer !== issuer) throw new JwksError(`the OpenID configuration is for another issuer (${JSON.stringify(String(docIssuer).slice(0, 200))}), not ${JSON.stringify(issuer)}`);
  if (typeof jwksUri !== 'string' || !isFetchableUrl(jwksUri)) throw new JwksError('the OpenID configuration has no https:// jwks_uri');
  return jwksUri;
}

/** https://, or http:// to a loopback address (a local issuer): key sets must not be open to tampering on the way. */
export function isFetchableUrl(text: string): boolean {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  if (url.username || url.password) return false;
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && (url.hostname === 'localhost' || url.hostname === '[::1]' || /^127\./.test(url.hostname));
}

function exportKey(k: SigningKey): string {
  return k.key.type === 'public' ? k.key.key.export({ format: 'der', type: 'spki' }).toString('base64') : k.key.key.toString('base64');
}
