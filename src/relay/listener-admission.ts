import type { ConnectionOptions, WsConnection } from '../websocket/connection.js';
import type { AuthorizationCache } from './authorization-cache.js';
import type { Grant } from './authorizer.js';
import type { ConnectBroker } from './connect-broker.js';
import type { HttpRelay } from './http-relay.js';
import { ListenerChannel } from './listener-channel.js';
import type { ListenerDirectory } from './listener-directory.js';
import type { RelayLimits } from './limits.js';
import type { LogLimiter } from './log-limiter.js';
import type { RelayEventBus } from '../observability/events/event-bus.js';
import type { Logger } from '../util/logger.js';

/**
 * How the relay speaks on the WebSockets whose far end is a listener's own code (control channels,
 * request rendezvous): JSON commands bounded and UTF-8 checked, and a write budget for a listener
 * that stops reading. Relayed sender/listener pairs are not WebSocket endpoints of the relay.
 */
export function controlConnectionOptions(limits: RelayLimits): Omit<ConnectionOptions, 'role'> {
  return {
    maxTextMessageBytes: limits.maxControlMessageBytes,
    validateUtf8: true,
    writeBudget: { maxBufferedBytes: limits.maxControlChannelBufferedBytes, stallMs: limits.writeStallMs },
  };
}

/** What a control channel is wired to on the relay. */
export interface ChannelWiring {
  directory: ListenerDirectory;
  broker: ConnectBroker;
  http: HttpRelay;
  authorizer: AuthorizationCache;
  log: Logger;
  lines: LogLimiter;
  /** Lifecycle steps: the listener going offline (docs/operations.md, "Events"). */
  events?: RelayEventBus;
  pingIntervalMs: number;
  pingTimeoutMs: number;
}

export interface NewChannel {
  conn: WsConnection;
  head: Buffer;
  entity: string;
  listenerId: string;
  grant: Grant;
  /** Base URL (ws[s]://host:port) the listener reached the relay on. */
  baseUrl: string;
  /** Port names it announced (Hybridge-Ports), undefined when none. */
  ports?: readonly string[];
}

/**
 * The relay's end of an admitted listener: responses go to the HTTP relay, renewed tokens are
 * checked (and the cluster registry told), and when the channel closes the connections and
 * requests it was offered go elsewhere.
 */
export function openListenerChannel(wiring: ChannelWiring, c: NewChannel): ListenerChannel {
  const { directory, broker, http, authorizer, log, lines, events } = wiring;
  const channel: ListenerChannel = new ListenerChannel(
    c.conn,
    c.entity,
    c.listenerId,
    c.grant,
    c.baseUrl,
    {
      findResponseSink: (ch, requestId) => http.responseSink(ch, requestId),
      reauthorize: async (token) => {
        const renewed = await authorizer.authorize({ token, entity: c.entity, right: 'Listen' });
        // The cluster registry keeps the grant too; other nodes revoke by it.
        if (renewed.ok) directory.refresh(channel, renewed.grant);
        return renewed;
      },
      onClosed: (ch, code, reason, error) => {
        directory.unregister(ch);
        broker.channelClosed(ch);
        http.channelClosed(ch);
        const fields = { hyco: ch.entity, listenerId: ch.listenerId, code, reason: reason || undefined, error: error?.message, listeners: directory.localChannels(ch.entity).length };
        // A flood of misbehaving listeners must not flood the log; an ordinary goodbye is always logged.
        if (error) lines.info({ ...fields, event: 'ListenerUnregistered' }, 'listener offline');
        else log.info({ ...fields, event: 'ListenerUnregistered' }, 'listener offline');
        events?.emit('ListenerUnregistered', { role: 'listener', ...fields, logged: true });
      },
    },
    log,
    { pingIntervalMs: wiring.pingIntervalMs, pingTimeoutMs: wiring.pingTimeoutMs },
    c.head,
  );
  channel.ports = c.ports;
  return channel;
}
