import { parseConnectionString } from '../protocol/connection-string.js';
import { audienceEntityPath, isValidEntityPath, parseRelayEndpoint, type RelayEndpoint } from '../protocol/relay-endpoint.js';
import { normalizeAudience } from '../protocol/sas-token.js';
import { ProxyPolicy, type ProxySetting } from '../proxy/proxy-policy.js';
import type { TlsClientOptions } from '../websocket/client-handshake.js';
import { WarmSockets, type PreconnectOptions } from '../websocket/warm-sockets.js';
import {
  EntraTokenProvider,
  SasKeyTokenProvider,
  SharedAccessSignatureTokenProvider,
  type TokenCredentialLike,
  type TokenProvider,
} from './token-provider.js';

/** How to reach one hybrid connection and prove the right to use it. */
export interface HybridConnectionOptions {
  /** `Endpoint=sb://...;SharedAccessKeyName=...;SharedAccessKey=...;EntityPath=...` */
  connectionString?: string;
  /** `sb://ns.servicebus.windows.net/`, `wss://host:port`, `ws://127.0.0.1:9350`, or a bare namespace name. */
  endpoint?: string | RelayEndpoint;
  /** The hybrid connection name (overrides EntityPath). */
  entityPath?: string;
  keyName?: string;
  key?: string;
  /** A pre-issued SAS token. */
  signature?: string;
  tokenProvider?: TokenProvider;
  /** Microsoft Entra ID credential (any @azure/identity TokenCredential). */
  credential?: TokenCredentialLike;
  /** Use Microsoft Entra ID through DefaultAzureCredential. */
  useEntraId?: boolean;
  /** Send no token at all (hybrid connections that let anonymous senders in). */
  anonymous?: boolean;
  /** Per-operation timeout (connect, accept); default 60 s as in the .NET SDK. */
  operationTimeoutMs?: number;
  /** Extra TLS trust (e.g. a self-signed relay's certificate) or `rejectUnauthorized: false`. */
  tls?: TlsClientOptions;
  /**
   * Send the token as the `sb-hc-token` query parameter instead of the ServiceBusAuthorization
   * header (Azure takes both; aztunnel's development relay only the parameter). Never logged.
   */
  tokenInQuery?: boolean;
  /**
   * The proxy for every connection to the relay (control channel, senders, rendezvous) and for
   * Microsoft Entra ID sign-in through DefaultAzureCredential: `http://[user:password@]host:port`
   * (HTTP CONNECT) or `socks5://...`, `false` or 'none' for none. Default: HTTPS_PROXY,
   * HTTP_PROXY, ALL_PROXY and NO_PROXY from the environment (see docs/deployment.md).
   */
  proxy?: ProxySetting;
  /**
   * Connected (and TLS-negotiated) sockets kept ready per relay host once it is in use: a
   * sender's next connect, or a listener's next rendezvous, then only costs the WebSocket upgrade.
   * A number sets the sockets per host (default 2); 0 or false turns it off. Not used through a proxy.
   */
  preconnect?: number | false | PreconnectOptions;
}

export interface ResolvedConnection {
  endpoint: RelayEndpoint;
  entityPath: string;
  tokenProvider: TokenProvider | undefined;
  operationTimeoutMs: number;
  tls: TlsClientOptions | undefined;
  proxy: ProxyPolicy;
  /** The audience tokens are signed for. */
  audience: string;
  tokenInQuery: boolean;
  /** The pre-connected sockets of this client or listener; undefined when off. */
  warm: WarmSockets | undefined;
}

export const DEFAULT_OPERATION_TIMEOUT_MS = 60_000;

/** Combines a connection string with explicit options (explicit values win). Throws on bad input. */
export function resolveConnection(options: HybridConnectionOptions): ResolvedConnection {
  const cs = options.connectionString ? parseConnectionString(options.connectionString) : undefined;
  const endpointOption = options.endpoint;
  const endpoint = endpointOption === undefined ? cs?.endpoint : typeof endpointOption === 'string' ? parseRelayEndpoint(endpointOption) : endpointOption;
  if (!endpoint) throw new Error('no relay endpoint: give a connection string or an endpoint');
  const entityPath = (options.entityPath ?? cs?.entityPath ?? '').replace(/^\/+|\/+$/g, '');
  if (!entityPath) throw new Error('no hybrid connection name: give EntityPath in the connection string or an entity path');
  if (!isValidEntityPath(entityPath)) throw new Error(`"${entityPath}" is not a valid hybrid connection name`);
  if ((options.keyName === undefined) !== (options.key === undefined)) throw new Error('a SAS key name and key must be given together');

  const proxy = ProxyPolicy.from(options.proxy);
  let tokenProvider: TokenProvider | undefined;
  if (options.anonymous) tokenProvider = undefined;
  else if (options.tokenProvider) tokenProvider = options.tokenProvider;
  else if (options.signature) tokenProvider = new SharedAccessSignatureTokenProvider(options.signature);
  else if (options.keyName && options.key) tokenProvider = new SasKeyTokenProvider(options.keyName, options.key);
  else if (options.credential || options.useEntraId) tokenProvider = new EntraTokenProvider(options.credential, { proxy });
  else if (cs?.sharedAccessSignature) tokenProvider = new SharedAccessSignatureTokenProvider(cs.sharedAccessSignature);
  else if (cs?.sharedAccessKeyName && cs.sharedAccessKey) tokenProvider = new SasKeyTokenProvider(cs.sharedAccessKeyName, cs.sharedAccessKey);
  else tokenProvider = new EntraTokenProvider(undefined, { proxy });

  return {
    endpoint,
    entityPath,
    tokenProvider,
    operationTimeoutMs: options.operationTimeoutMs ?? cs?.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS,
    tls: options.tls,
    proxy,
    audience: normalizeAudience(endpoint.host, audienceEntityPath(endpoint, entityPath)),
    tokenInQuery: options.tokenInQuery === true,
    warm: warmSocketsFor(options.preconnect, options.tls),
  };
}

/** The pre-connected socket pool `setting` asks for (default 2 per host), or undefined when it is off. */
function warmSocketsFor(setting: HybridConnectionOptions['preconnect'], tls: TlsClientOptions | undefined): WarmSockets | undefined {
  if (setting === false || setting === 0) return undefined;
  const options = typeof setting === 'number' ? { perHost: setting } : (setting ?? {});
  if (options.perHost !== undefined && !(Number.isInteger(options.perHost) && options.perHost >= 0 && options.perHost <= 64)) {
    throw new Error(`preconnect: ${options.perHost} is not a number of sockets from 0 to 64`);
  }
  return options.perHost === 0 ? undefined : new WarmSockets(options, tls);
}
