import { channel } from 'node:diagnostics_channel';
import { EntraTokenProvider, SasKeyTokenProvider, SharedAccessSignatureTokenProvider, type SecurityToken, type TokenProvider } from './token-provider.js';

/** aztunnel's `provider` label: SAS (a key or a pre-issued signature) or Microsoft Entra ID. */
export type TokenProviderKind = 'sas' | 'entra';

/** One TokenProvider.getToken call of the client library, as published on TOKEN_FETCH_CHANNEL. */
export interface TokenFetch {
  provider: TokenProviderKind;
  result: 'ok' | 'error';
  seconds: number;
}

/**
 * The diagnostics channel every relay token fetch is published on (end metrics subscribe to it:
 * aztunnel_token_fetch_*). Nothing is timed or published while no one listens.
 */
export const TOKEN_FETCH_CHANNEL = 'hybridge:token-fetch';
const fetches = channel(TOKEN_FETCH_CHANNEL);

function kindOf(provider: TokenProvider): TokenProviderKind | undefined {
  if (provider instanceof SasKeyTokenProvider || provider instanceof SharedAccessSignatureTokenProvider) return 'sas';
  if (provider instanceof EntraTokenProvider) return 'entra';
  return undefined;
}

/** provider.getToken(audience), timed and published when someone subscribes (the library's own providers only). */
export async function fetchToken(provider: TokenProvider, audience: string): Promise<SecurityToken> {
  const kind = kindOf(provider);
  if (kind === undefined || !fetches.hasSubscribers) return provider.getToken(audience);
  const started = performance.now();
  const publish = (result: TokenFetch['result']) => fetches.publish({ provider: kind, result, seconds: (performance.now() - started) / 1000 } satisfies TokenFetch);
  try {
    const token = await provider.getToken(audience);
    publish('ok');
    return token;
  } catch (err) {
    publish('error');
    throw err;
  }
}
