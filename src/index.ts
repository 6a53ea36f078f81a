export * from './client/index.js';
export { parseConnectionString, formatConnectionString, type ConnectionString } from './protocol/connection-string.js';
export { createSasToken, parseSasToken } from './protocol/sas-token.js';
export { parseRelayEndpoint, type RelayEndpoint } from './protocol/relay-endpoint.js';
export { createRelayServer, type CreateRelayServerOptions, type EmbeddedRelay } from './relay/create-relay-server.js';
export type { RelayServer } from './relay/relay-server.js';
export { ProxyPolicy, type ProxySetting } from './proxy/proxy-policy.js';
export { ProxyError, ProxySettingsError, type ProxyFailure } from './proxy/proxy-error.js';
