import { CloseCode } from '../protocol/websocket-frame.js';
import type { RelayEventBus } from '../observability/events/event-bus.js';
import { grantRevoked, type Grant } from './authorizer.js';
import type { RelayedConnection } from './connect-broker.js';
import type { ListenerChannel } from './listener-channel.js';
import type { ListenerDirectory } from './listener-directory.js';
import type { NamespaceChange, NamespaceStore } from './namespace-store.js';

const ADDRESS_NO_LONGER_ALLOWED = 'the client address is no longer allowed by the IP rules';

export interface LiveConnections {
  store: NamespaceStore;
  directory: ListenerDirectory;
  relayed: ReadonlySet<RelayedConnection>;
  /** Where the deletion and the key change are reported (their log lines come from its log sink). */
  events: RelayEventBus;
}

/**
 * Applies a namespace change to the connections it affects, on every node: a deleted hybrid
 * connection closes its listeners and connections (1001), turning client authorization on cuts
 * off anonymous senders, a renewed or removed key cuts off everything admitted with it (1008), and
 * new IP rules cut off every listener, sender and rendezvous leg from an address they refuse (1008).
 */
export function enforceNamespaceChange(live: LiveConnections, change: NamespaceChange): void {
  const { store, directory, relayed, events } = live;
  if (change.kind === 'hycoDeleted') {
    for (const channel of directory.localChannels(change.name)) channel.close(CloseCode.GoingAway, 'hybrid connection deleted');
    for (const c of relayed) if (c.entity.toLowerCase() === change.name.toLowerCase()) c.pair.shutdown(CloseCode.GoingAway, 'hybrid connection deleted');
    events.emit('HybridConnectionDeleted', { hyco: change.name });
    return;
  }
  if (change.kind === 'hycoUpdated') {
    // Turning client authorization on cuts off the anonymous senders it let in before.
    if (!store.getHybridConnection(change.name)?.requiresClientAuthorization) return;
    for (const c of relayed) {
      if (c.entity.toLowerCase() === change.name.toLowerCase() && c.senderGrant.anonymous) c.pair.shutdown(CloseCode.PolicyViolation, 'client authorization is now required');
    }
    return;
  }
  if (change.kind === 'networkRulesChanged') {
    const refused = (address: string | undefined) => address !== undefined && !store.decideAddress(address).allowed;
    const closed = cutOff(live, ADDRESS_NO_LONGER_ALLOWED, (channel) => refused(channel.clientAddress), (c) => refused(c.remote.address) || refused(c.listenerRemote));
    events.emit('NetworkRulesChanged', { closed });
    return;
  }
  const revoked = (grant: Grant) => grantRevoked(grant, change.scope, change.keyName, change.revokedKeys);
  const closed = cutOff(live, 'authorization revoked', (channel) => revoked(channel.grant), (c) => revoked(c.senderGrant) || revoked(c.listenerGrant));
  events.emit('AuthorizationRuleKeysChanged', { rule: change.keyName, scope: change.scope ?? '(namespace)', change: change.kind === 'ruleRemoved' ? 'removed' : 'renewed', closed });
}

/** Closes (1008, `reason`) the local listener channels and relayed connections that match; returns how many. */
function cutOff(live: LiveConnections, reason: string, channelMatches: (channel: ListenerChannel) => boolean, connectionMatches: (c: RelayedConnection) => boolean): number {
  let closed = 0;
  for (const channel of live.directory.localChannels()) {
    if (channelMatches(channel)) {
      channel.close(CloseCode.PolicyViolation, reason);
      closed++;
    }
  }
  for (const c of live.relayed) {
    if (connectionMatches(c)) {
      c.pair.shutdown(CloseCode.PolicyViolation, reason);
      closed++;
    }
  }
  return closed;
}
