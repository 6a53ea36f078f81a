import type { Grant } from './authorizer.js';
import type { ListenerChannel } from './listener-channel.js';
import { ListenerRegistry } from './listener-registry.js';
import type { PortWanted } from './port-routing.js';

/** A listener somewhere in the relay (this node or, in a cluster, another one). */
export interface ListenerRef {
  /** Unique across the cluster: `{nodeId}/{sequence}`. */
  key: string;
  nodeId: string;
  /** The listener's own id (its sb-hc-id), matched by Allowed/DisallowedListeners. */
  listenerId: string;
  /** Who the listener was admitted as (revoking that key cuts its connections, on every node). */
  grant: Grant;
  /** The control channel, when the listener is connected to this node. */
  channel: ListenerChannel | undefined;
  /** The port names it announced (Hybridge-Ports); undefined when it announced none. */
  ports?: readonly string[];
}

export interface PickCriteria {
  allowed?: ReadonlySet<string>;
  disallowed?: ReadonlySet<string>;
  /** Listener keys already tried for this connection. */
  exclude?: ReadonlySet<string>;
  /** Only listeners of this port-routing tier (port-routing.ts). */
  port?: PortWanted;
}

/**
 * Where listeners are and how to reach them. The single-node directory holds this node's control
 * channels; the cluster directory adds the other nodes' listeners (from Redis) and carries
 * commands to them over pub/sub.
 */
export interface ListenerDirectory {
  readonly nodeId: string;
  /** Adds a control channel of this node; false when the entity has its maximum number of listeners. */
  register(channel: ListenerChannel): Promise<boolean>;
  unregister(channel: ListenerChannel): void;
  /** A channel of this node renewed its token: `grant` is who it is admitted as from now on. */
  refresh(channel: ListenerChannel, grant: Grant): void;
  /** The next listener for a new connection (round-robin over those meeting the criteria; see listener-selection.ts). */
  pick(entity: string, criteria: PickCriteria): Promise<ListenerRef | undefined>;
  /**
   * Sends a command to a listener. `ref` names the waiting connection so that the listener's node
   * can report it undeliverable (the listener left before taking it); `onUndeliverable` then runs.
   */
  deliver(target: ListenerRef, json: string, ref: string, onUndeliverable: () => void): Promise<boolean>;
  /** The waiting connection `ref` is settled; forget its undeliverable callback. */
  settle(ref: string): void;
  /** The listener left a sender waiting past the hand-off time: demote it for new work. */
  noteSilent(target: ListenerRef): void;
  /** The listener came to a rendezvous: it is no longer demoted. */
  noteResponsive(target: ListenerRef): void;
  /** Listeners of an entity (cluster-wide in a cluster). */
  count(entity: string): Promise<number>;
  /** Control channels connected to this node. */
  localChannels(entity?: string): ListenerChannel[];
  /** Cluster mode: the live nodes (this node's view at its last heartbeat) and whether Redis answers. */
  membership?(): { nodes: string[]; redisUp: boolean };
  close(): Promise<void>;
}

/** The directory of a standalone relay: every listener is a control channel of this process. */
export class LocalDirectory implements ListenerDirectory {
  readonly registry: ListenerRegistry;
  private readonly keys = new Map<ListenerChannel, string>();
  private readonly byKey = new Map<string, ListenerChannel>();
  private sequence = 0;

  constructor(
    readonly nodeId: string,
    maxPerEntity: number,
  ) {
    this.registry = new ListenerRegistry(maxPerEntity);
  }

  async register(channel: ListenerChannel): Promise<boolean> {
    return this.addLocal(channel);
  }

  /** Synchronous part shared with the cluster directory. */
  addLocal(channel: ListenerChannel): boolean {
    if (!this.registry.add(channel)) return false;
    const key = `${this.nodeId}/${++this.sequence}`;
    this.keys.set(channel, key);
    this.byKey.set(key, channel);
    return true;
  }

  refresh(): void {
    // Local refs are built from the channel itself, whose grant is already the current one.
  }

  unregister(channel: ListenerChannel): void {
    this.registry.remove(channel);
    const key = this.keys.get(channel);
    if (key !== undefined) this.byKey.delete(key);
    this.keys.delete(channel);
  }

  keyOf(channel: ListenerChannel): string | undefined {
    return this.keys.get(channel);
  }

  channelByKey(key: string): ListenerChannel | undefined {
    return this.byKey.get(key);
  }

  refOf(channel: ListenerChannel): ListenerRef {
    return { key: this.keys.get(channel) ?? '', nodeId: this.nodeId, listenerId: channel.listenerId, grant: channel.grant, channel, ports: channel.ports };
  }

  pickLocal(entity: string, criteria: PickCriteria): ListenerRef | undefined {
    const excludeChannels = new Set<ListenerChannel>();
    for (const key of criteria.exclude ?? []) {
      const channel = this.byKey.get(key);
      if (channel) excludeChannels.add(channel);
    }
    const channel = this.registry.pick(entity, { allowed: criteria.allowed, disallowed: criteria.disallowed, exclude: excludeChannels, port: criteria.port });
    return channel ? this.refOf(channel) : undefined;
  }

  async pick(entity: string, criteria: PickCriteria): Promise<ListenerRef | undefined> {
    return this.pickLocal(entity, criteria);
  }

  async deliver(target: ListenerRef, json: string): Promise<boolean> {
    return target.channel?.send(json) ?? false;
  }

  settle(): void {
    // Local deliveries report failure through the channel's close, not through callbacks.
  }

  noteSilent(target: ListenerRef): void {
    target.channel?.markSilent();
  }

  noteResponsive(target: ListenerRef): void {
    target.channel?.markResponsive();
  }

  async count(entity: string): Promise<number> {
    return this.registry.count(entity);
  }

  localChannels(entity?: string): ListenerChannel[] {
    return this.registry.channels(entity);
  }

  async close(): Promise<void> {
    // Nothing to release: channels are closed by the server.
  }
}
