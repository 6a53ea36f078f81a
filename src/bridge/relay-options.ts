import type { HybridConnectionOptions } from '../client/index.js';
import type { ProxyPolicy } from '../proxy/proxy-policy.js';
import type { TlsClientOptions } from '../websocket/client-handshake.js';
import type { ConnectionString } from '../protocol/connection-string.js';

/**
 * Client-library options for one forwarder's connection: SAS key or signature when the connection
 * string has one, Microsoft Entra ID (DefaultAzureCredential) otherwise, as azbridge does; no token at
 * all for NoAuthentication senders.
 */
export function relayClientOptions(connection: ConnectionString, extra: { anonymous?: boolean; tls?: TlsClientOptions; tokenInQuery?: boolean; proxy?: ProxyPolicy; preconnect?: number } = {}): HybridConnectionOptions {
  const options: HybridConnectionOptions = { endpoint: connection.endpoint, entityPath: connection.entityPath };
  if (extra.anonymous) options.anonymous = true;
  else if (connection.sharedAccessSignature !== undefined) options.signature = connection.sharedAccessSignature;
  else if (connection.sharedAccessKeyName !== undefined && connection.sharedAccessKey !== undefined) {
    options.keyName = connection.sharedAccessKeyName;
    options.key = connection.sharedAccessKey;
  } else options.useEntraId = true;
  if (connection.operationTimeoutMs !== undefined) options.operationTimeoutMs = connection.operationTimeoutMs;
  if (extra.tls) options.tls = extra.tls;
  if (extra.tokenInQuery) options.tokenInQuery = true;
  if (extra.proxy) options.proxy = extra.proxy;
  if (extra.preconnect !== undefined) options.preconnect = extra.preconnect;
  return options;
}
