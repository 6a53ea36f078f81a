export { HybridConnectionClient, type ConnectRetry, type CreateConnectionOptions } from './hybrid-connection-client.js';
export {
  DEFAULT_RECONNECT_DELAYS_MS,
  HybridConnectionListener,
  type AcceptAsWebSocket,
  type AcceptContext,
  type AcceptDecision,
  type AcceptHandler,
  type ListenerEvents,
  type ListenerOptions,
} from './hybrid-connection-listener.js';
export { DEFAULT_STREAM_KEEPALIVE_MS, HybridConnectionStream, type RelayedMessage, type StreamInfo, type StreamOptions } from './hybrid-connection-stream.js';
export { RelayedHttpRequest } from './relayed-http-request.js';
export { RelayedHttpResponse } from './relayed-http-response.js';
export type { RequestHandler } from './http-dispatch.js';
export { resolveConnection, type HybridConnectionOptions, type ResolvedConnection } from './connection-options.js';
export {
  EntraTokenProvider,
  SasKeyTokenProvider,
  SharedAccessSignatureTokenProvider,
  ENTRA_RELAY_SCOPE,
  type EntraTokenOptions,
  type SecurityToken,
  type TokenCredentialLike,
  type TokenProvider,
} from './token-provider.js';
export {
  AuthorizationFailedError,
  ConnectionLostError,
  EndpointNotFoundError,
  MessageTooLargeError,
  RelayError,
  RelayHandshakeError,
  RelayTimeoutError,
} from './errors.js';
