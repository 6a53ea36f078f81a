import type { Socket } from 'node:net';
import type { RelayServer } from '../../relay/relay-server.js';
import type { NumberedEvent, RecentEvents } from '../events/recent-events.js';

export interface HybridConnectionStatus {
  name: string;
  requiresClientAuthorization: boolean;
  /** Listeners online (across the cluster in cluster mode). */
  listeners: number;
  /** Relayed connections open on this node. */
  activeConnections: number;
  /** Bytes relayed by this node since it started, towards the listeners and towards the senders. */
  bytesToListener: number;
  bytesToSender: number;
}

export interface ListenerStatus {
  hyco: string;
  listenerId: string;
  remote: string | undefined;
  /** ISO 8601. */
  since: string;
  node: string;
}

export interface ConnectionStatus {
  trackingId: string | undefined;
  hyco: string;
  listenerId: string | undefined;
  since: string;
  bytesToListener: number;
  bytesToSender: number;
}

/** What `GET /$hybridge/v1/status` answers: this node's view, for `hybridge status` and the dashboard. */
export interface RelayStatusView {
  node: string;
  time: string;
  startedAt: string;
  cluster: { nodes: string[]; redisUp: boolean } | null;
  hybridConnections: HybridConnectionStatus[];
  listeners: ListenerStatus[];
  connections: ConnectionStatus[];
  events: NumberedEvent[];
}

/** Keeps per-hybrid-connection byte totals of finished connections and builds the status view. */
export class RelayStatus {
  private readonly finished = new Map<string, { toListener: number; toSender: number }>();
  private readonly startedAt = new Date().toISOString();

  constructor(
    private readonly server: RelayServer,
    private readonly recent: RecentEvents,
  ) {
    server.lifecycle.observe({
      ended: (c) => {
        if (c.kind !== 'stream') return;
        const key = c.hyco.toLowerCase();
        const totals = this.finished.get(key) ?? { toListener: 0, toSender: 0 };
        totals.toListener += c.bytesToListener;
        totals.toSender += c.bytesToSender;
        this.finished.set(key, totals);
      },
    });
  }

  async view(eventsAfter = 0): Promise<RelayStatusView> {
    const server = this.server;
    const node = server.directory.nodeId;
    const connections: ConnectionStatus[] = [];
    const live = new Map<string, { open: number; toListener: number; toSender: number }>();
    for (const c of server.lifecycle.connections()) {
      // The default namespace's view: a hosted namespace's connections are its own business.
      if (c.kind !== 'stream' || c.fields.namespace !== undefined) continue;
      const bytes = { toListener: c.bytesToListener, toSender: c.bytesToSender };
      connections.push({ trackingId: c.trackingId, hyco: c.hyco, listenerId: c.fields.listenerId, since: new Date(c.startedAt).toISOString(), bytesToListener: bytes.toListener, bytesToSender: bytes.toSender });
      const key = c.hyco.toLowerCase();
      const sum = live.get(key) ?? { open: 0, toListener: 0, toSender: 0 };
      sum.open++;
      sum.toListener += bytes.toListener;
      sum.toSender += bytes.toSender;
      live.set(key, sum);
    }
    const hybridConnections = await Promise.all(
      server.store.hybridConnections().map(async (entity): Promise<HybridConnectionStatus> => {
        const key = entity.name.toLowerCase();
        const done = this.finished.get(key);
        const now = live.get(key);
        return {
          name: entity.name,
          requiresClientAuthorization: entity.requiresClientAuthorization,
          listeners: await server.directory.count(entity.name).catch(() => server.local.registry.count(entity.name)),
          activeConnections: now?.open ?? 0,
          bytesToListener: (done?.toListener ?? 0) + (now?.toListener ?? 0),
          bytesToSender: (done?.toSender ?? 0) + (now?.toSender ?? 0),
        };
      }),
    );
    const listeners: ListenerStatus[] = server.directory.localChannels().map((channel) => ({
      hyco: channel.entity,
      listenerId: channel.listenerId,
      remote: (channel.conn.socket as Socket).remoteAddress,
      since: new Date(channel.connectedAt).toISOString(),
      node,
    }));
    return {
      node,
      time: new Date().toISOString(),
      startedAt: this.startedAt,
      cluster: server.directory.membership?.() ?? null,
      hybridConnections,
      listeners,
      connections,
      events: this.recent.since(eventsAfter, 100),
    };
  }
}
