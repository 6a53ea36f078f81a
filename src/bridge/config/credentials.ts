import { parseConnectionString, type ConnectionString } from '../../protocol/connection-string.js';
import { parseRelayEndpoint, type RelayEndpoint } from '../../protocol/relay-endpoint.js';
import { BridgeConfigError } from './config-error.js';
import type { ConfigLayer } from './layer.js';
import type { BridgeConfig } from './model.js';

/**
 * The namespace connection from all layers, lowest first. In each layer the connection string
 * (AzureRelayConnectionString, -x, or the AZURE_BRIDGE_CONNECTIONSTRING layer) replaces everything
 * before it; then that layer's endpoint, key name, key and signature (AzureRelay* keys, -e -K -k -s)
 * replace the matching parts. So the command line's -e/-K/-k/-s override the parts of its -x, as
 * azbridge documents; azbridge's code applies -x last and silently drops them.
 *
 * A key (name or value) clears an earlier signature and a signature clears an earlier key, so a later
 * layer can switch the authentication method; one layer giving both is an error.
 */
export function resolveConnection(layers: readonly ConfigLayer[]): ConnectionString | undefined {
  let parts: Partial<ConnectionString> = {};
  let keyNameWhere: string | undefined;
  let keyWhere: string | undefined;
  for (const { credentials: c } of layers) {
    if (c.connectionString) {
      parts = { ...parseConnectionString(c.connectionString.value) };
      keyNameWhere = keyWhere = c.connectionString.where;
    }
    if (c.endpoint) parts.endpoint = parseRelayEndpoint(c.endpoint.value);
    if (c.signature && (c.keyName || c.key)) {
      throw new BridgeConfigError(`${c.signature.where}: give either a shared access signature (-s) or a key name and key (-K, -k), not both`);
    }
    if (c.keyName || c.key) {
      delete parts.sharedAccessSignature;
      delete parts.managedIdentity;
    }
    if (c.keyName) [parts.sharedAccessKeyName, keyNameWhere] = [c.keyName.value, c.keyName.where];
    if (c.key) [parts.sharedAccessKey, keyWhere] = [c.key.value, c.key.where];
    if (c.signature) {
      parts.sharedAccessSignature = c.signature.value;
      delete parts.sharedAccessKeyName;
      delete parts.sharedAccessKey;
      delete parts.managedIdentity;
    }
  }
  if (parts.sharedAccessKeyName !== undefined && parts.sharedAccessKey === undefined) {
    throw new BridgeConfigError(`${keyNameWhere}: a shared access key name (-K, AzureRelaySharedAccessKeyName) needs a key (-k, AzureRelaySharedAccessKey)`);
  }
  if (parts.sharedAccessKey !== undefined && parts.sharedAccessKeyName === undefined) {
    throw new BridgeConfigError(`${keyWhere}: a shared access key (-k, AzureRelaySharedAccessKey) needs a key name (-K, AzureRelaySharedAccessKeyName)`);
  }
  const endpoint: RelayEndpoint | undefined = parts.endpoint;
  return endpoint ? { ...parts, endpoint } : undefined;
}

/**
 * The connection one forwarder uses: its own ConnectionString if it has one, else the namespace
 * connection; either way with EntityPath set to the forwarder's relay name (as azbridge does).
 */
export function forwardConnection(config: Pick<BridgeConfig, 'connection'>, forward: { relayName: string; connectionString?: string }): ConnectionString | undefined {
  const base = forward.connectionString !== undefined ? parseConnectionString(forward.connectionString) : config.connection;
  return base && { ...base, entityPath: forward.relayName };
}
