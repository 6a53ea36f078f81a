import { CloseCode } from '../protocol/websocket-frame.js';
import type { RelayEventBus } from '../observability/events/event-bus.js';
import { grantRevoked, type Grant } from './authorizer.js';
import type { RelayedConnection } from './connect-broker.js';
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
    let closed = 0;
    for (const channel of directory.localChannels()) {
      if (refused(channel.clientAddress)) {
        channel.close(CloseCode.PolicyViolation, ADDRESS_NO_LONGER_ALLOWED);
        closed++;
      }
    }
    for (const c of relayed) {
      if (refused(c.remote.address) || refused(c.listenerRemote)) {
        c.pair.shutdown(CloseCode.PolicyViolation, ADDRESS_NO_LONGER_ALLOWED);
        closed++;
      }
    }
    events.emit('NetworkRulesChanged', { closed });
    return;
  }
  const revoked = (grant: Grant) => grantRevoked(grant, change.scope, change.keyName, change.revokedKeys);
  let closed = 0;
  for (const channel of directory.localChannels()) {
    if (revoked(channel.grant)) {
      channel.close(CloseCode.PolicyViolation, 'authorization revoked');
      closed++;
    }
  }
  for (const c of relayed) {
    if (revoked(c.senderGrant) || revoked(c.listenerGrant)) {
      c.pair.shutdown(CloseCode.PolicyViolation, 'authorization revoked');
      closed++;
    }
  }
  events.emit('AuthorizationRuleKeysChanged', { rule: change.keyName, scope: change.scope ?? '(namespace)', change: change.kind === 'ruleRemoved' ? 'removed' : 'renewed', closed });
}
