/**
 * The relay's structured events: one per lifecycle step, named after Azure Relay's diagnostic-log
 * operation names where Azure has one (docs/operations.md, "Events"). Each carries the tracking id
 * the relay hands to both ends, so one connection can be followed across the relay's, the sender's
 * and the listener's logs.
 */

export type RelayEventName =
  // Azure Relay's Hybrid Connections diagnostic operations
  | 'NewListenerRegistered'
  | 'ListenerUnregistered'
  | 'NewSenderRegistering'
  | 'ListenerAcceptingConnection'
  | 'ListenerAcceptingConnectionTimeout'
  | 'ListenerRejectedConnection'
  | 'SenderListenerConnectionEstablished'
  | 'SenderConnectionClosed'
  | 'ListenerReturningHttpResponse'
  | 'InvalidSasToken'
  | 'AuthorizationFailed'
  // hybridge's own, where Azure has none
  | 'ListenerRegistrationFailed'
  | 'SenderConnectionFailed'
  | 'HttpRequestFailed'
  | 'AuthorizationRuleKeysChanged'
  | 'NetworkRulesChanged'
  | 'HybridConnectionDeleted'
  | 'ManagementOperation';

/** Which client an event is about. */
export type RelayClientRole = 'listener' | 'sender' | 'http' | 'management';

export interface RelayEventFields {
  /** The hosted namespace (absent: the default namespace). */
  namespace?: string;
  /** The hybrid connection (the log vocabulary's `hyco`). */
  hyco?: string;
  trackingId?: string;
  listenerId?: string;
  role?: RelayClientRole;
  /** The client's address. */
  remote?: string;
  /** HTTP status of a refusal or of a relayed response. */
  status?: number;
  reason?: string;
  /** Left out of the log and the event file (the failure throttle's burst is over); still counted. */
  quiet?: boolean;
  /** The relay's log already has this step's line (a connection's closing line): the log sink skips it. */
  logged?: boolean;
  /** The failure throttle held this answer back. */
  throttled?: boolean;
  [more: string]: string | number | boolean | undefined;
}

/** An event as the sinks see it. */
export interface RelayEvent extends RelayEventFields {
  event: RelayEventName;
  /** ISO 8601, UTC. */
  time: string;
  /** The relay node that saw it. */
  node: string;
}

/** The human line each event is logged with, and at which level. */
export const EVENT_LINES: Record<RelayEventName, { message: string; level: 'debug' | 'info' | 'warn' }> = {
  NewListenerRegistered: { message: 'listener online', level: 'info' },
  ListenerUnregistered: { message: 'listener offline', level: 'info' },
  NewSenderRegistering: { message: 'sender connecting', level: 'debug' },
  ListenerAcceptingConnection: { message: 'accept sent to the listener', level: 'debug' },
  ListenerAcceptingConnectionTimeout: { message: 'listener did not accept in time', level: 'info' },
  ListenerRejectedConnection: { message: 'listener rejected the connection', level: 'info' },
  SenderListenerConnectionEstablished: { message: 'connection established', level: 'debug' },
  SenderConnectionClosed: { message: 'connection ended', level: 'info' },
  ListenerReturningHttpResponse: { message: 'http response relayed', level: 'debug' },
  InvalidSasToken: { message: 'invalid SAS token', level: 'info' },
  AuthorizationFailed: { message: 'authorization failed', level: 'info' },
  ListenerRegistrationFailed: { message: 'listener refused', level: 'info' },
  SenderConnectionFailed: { message: 'sender refused', level: 'info' },
  HttpRequestFailed: { message: 'http request refused', level: 'info' },
  AuthorizationRuleKeysChanged: { message: 'authorization rule keys changed; connections using the old key were closed', level: 'info' },
  NetworkRulesChanged: { message: 'IP rules changed; connections from addresses they now refuse were closed', level: 'info' },
  HybridConnectionDeleted: { message: 'hybrid connection deleted; its listeners and connections were closed', level: 'info' },
  ManagementOperation: { message: 'management operation', level: 'info' },
};

/** Events webhooks are told about. */
export const WEBHOOK_EVENTS: ReadonlySet<RelayEventName> = new Set(['NewListenerRegistered', 'ListenerUnregistered', 'AuthorizationRuleKeysChanged', 'NetworkRulesChanged']);

/** `Kind: detail` reasons from the authorizer: the kind (MissingToken, ExpiredToken, ...) for metrics. */
export function reasonKind(reason: string | undefined): string {
  const match = /^([A-Za-z]+):/.exec(reason ?? '');
  return match ? match[1]! : 'Other';
}
