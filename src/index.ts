export * from './client/index.js';
export { parseConnectionString, formatConnectionString, type ConnectionString } from './protocol/connection-string.js';
export { createSasToken, parseSasToken } from './protocol/sas-token.js';
export { parseRelayEndpoint, type RelayEndpoint } from './protocol/relay-endpoint.js';
export { createRelayServer, type CreateRelayServerOptions, type EmbeddedRelay } from './relay/create-relay-server.js';
export type { RelayServer } from './relay/relay-server.js';
export type { JwtAuthOptions, JwtIssuer } from './relay/jwt/jwt-authorizer.js';
export type { KeySource } from './relay/jwt/key-set.js';
export { parseRoleMapping, type RoleMapping } from './relay/jwt/role-mapping.js';
