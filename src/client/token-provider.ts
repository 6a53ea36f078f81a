import { createSasToken, parseSasToken } from '../protocol/sas-token.js';
import { identityProxyOptions } from '../proxy/identity-proxy.js';
import { ProxyPolicy, type ProxySetting } from '../proxy/proxy-policy.js';
import { setNewest } from '../util/bounded-map.js';

export interface SecurityToken {
  /** The value for the ServiceBusAuthorization header (a SAS token or a raw JWT). */
  token: string;
  /** Unix milliseconds. */
  expiresAt: number;
}

/** Supplies tokens for a resource URI (the .NET SDK's TokenProvider). */
export interface TokenProvider {
  getToken(audience: string): Promise<SecurityToken>;
}

export const DEFAULT_TOKEN_TTL_SECONDS = 3600;

/** Audiences whose last token a SasKeyTokenProvider keeps (one or two in practice). */
const MAX_CACHED_AUDIENCES = 16;

/**
 * Signs SAS tokens with a rule's key (the key never leaves this process). A token is reused while
 * more than half of its lifetime is left, so a busy sender does not sign one per connection.
 */
export class SasKeyTokenProvider implements TokenProvider {
  private readonly cache = new Map<string, SecurityToken>();

  constructor(
    private readonly keyName: string,
    private readonly key: string,
    private readonly ttlSeconds = DEFAULT_TOKEN_TTL_SECONDS,
  ) {
    if (!keyName || !key) throw new Error('a SAS key name and key are both required');
  }

  async getToken(audience: string): Promise<SecurityToken> {
    const cached = this.cache.get(audience);
    if (cached && cached.expiresAt - Date.now() > (this.ttlSeconds * 1000) / 2) return cached;
    const expiresAt = Math.floor(Date.now() / 1000) + this.ttlSeconds;
    const fresh = { token: createSasToken(audience, this.keyName, this.key, expiresAt), expiresAt: expiresAt * 1000 };
    setNewest(this.cache, audience, fresh, MAX_CACHED_AUDIENCES);
    return fresh;
  }
}

/** A pre-issued SAS token, used as is until it expires. */
export class SharedAccessSignatureTokenProvider implements TokenProvider {
  private readonly expiresAt: number;

  constructor(private readonly signature: string) {
    this.expiresAt = parseSasToken(signature).expiresAt * 1000;
  }

  async getToken(): Promise<SecurityToken> {
    return { token: this.signature, expiresAt: this.expiresAt };
  }
}

/** The part of @azure/core-auth's TokenCredential that we use. */
export interface TokenCredentialLike {
  getToken(scopes: string | string[], options?: unknown): Promise<{ token: string; expiresOnTimestamp: number } | null>;
}

/** Microsoft Entra ID: the .NET SDK's audience with `/.default` (reference §4.2). */
export const ENTRA_RELAY_SCOPE = 'https://relay.azure.net//.default';

/** What an EntraTokenProvider asks for, and where DefaultAzureCredential signs in. */
export interface EntraTokenOptions {
  /** Default: the relay scope (ENTRA_RELAY_SCOPE). */
  scope?: string;
  /** Microsoft Entra ID authority for DefaultAzureCredential (sovereign clouds), e.g. https://login.microsoftonline.us. */
  authorityHost?: string;
  /** The proxy DefaultAzureCredential's sign-in requests take (see HybridConnectionOptions.proxy); default: the environment's. */
  proxy?: ProxySetting;
}

/**
 * Microsoft Entra ID tokens from a TokenCredential (DefaultAzureCredential unless one is given).
 * The raw JWT goes where a SAS token would; tokens are cached until five minutes before expiry, and
 * concurrent callers share one fetch.
 */
export class EntraTokenProvider implements TokenProvider {
  private cached: SecurityToken | undefined;
  private inflight: Promise<SecurityToken> | undefined;
  private readonly scope: string;

  constructor(
    private credential?: TokenCredentialLike,
    private readonly options: EntraTokenOptions = {},
  ) {
    this.scope = options.scope ?? ENTRA_RELAY_SCOPE;
  }

  async getToken(): Promise<SecurityToken> {
    if (this.cached && this.cached.expiresAt - Date.now() > 5 * 60_000) return this.cached;
    this.inflight ??= this.fetch().finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  private async fetch(): Promise<SecurityToken> {
    let result;
    try {
      const credential = this.credential ?? (this.credential = await defaultCredential(this.options));
      result = await credential.getToken(this.scope);
    } catch (err) {
      throw new Error(`could not get a Microsoft Entra ID token: ${(err as Error).message.split('\n')[0]}`);
    }
    if (!result?.token) throw new Error('could not get a Microsoft Entra ID token: the credential returned none');
    this.cached = { token: result.token, expiresAt: result.expiresOnTimestamp };
    return this.cached;
  }
}

async function defaultCredential(options: EntraTokenOptions): Promise<TokenCredentialLike> {
  // Loaded on demand: @azure/identity is large and most runs use SAS keys.
  const identity = await import('@azure/identity');
  return new identity.DefaultAzureCredential({
    ...(options.authorityHost ? { authorityHost: options.authorityHost } : {}),
    ...identityProxyOptions(ProxyPolicy.from(options.proxy)),
  });
}
