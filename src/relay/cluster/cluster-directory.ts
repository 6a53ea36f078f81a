import type { Logger } from '../../util/logger.js';
import type { Grant } from '../authorizer.js';
import type { ListenerChannel } from '../listener-channel.js';
import type { ListenerDirectory, ListenerRef, LocalDirectory, PickCriteria } from '../listener-directory.js';
import { Eligibility, eligibilityOf, pickRoundRobin, SilenceMarks } from '../listener-selection.js';
import { portEligible } from '../port-routing.js';
import { ClusterUnavailableError, redisReady, type RedisPair } from './redis-connection.js';
import { HEARTBEAT_SCRIPT, LIST_SCRIPT, REGISTER_SCRIPT } from './registry-scripts.js';
import { clearTimer } from '../../util/clear-timer.js';

export interface ClusterDirectoryOptions {
  maxPerEntity: number;
  log: Logger;
  /** How often this node announces itself (default 1 s). */
  heartbeatMs?: number;
  /** After how long without a heartbeat a node is considered gone (default 5 heartbeats). */
  nodeTtlMs?: number;
}

/** A registry entry: one listener, on one node. */
interface Entry {
  nodeId: string;
  listenerId: string;
  grant: Grant;
  /** Announced port names (Hybridge-Ports); absent when the listener announced none. */
  ports?: string[];
}

type NodeMessage = { t: 'deliver'; key: string; json: string; ref: string; from: string } | { t: 'undeliverable'; ref: string };

/**
 * The cluster-wide listener directory. Every node keeps its listeners in Redis hashes, announces
 * itself with heartbeats, and receives commands for its listeners on its own pub/sub channel. A
 * sender's node picks a listener anywhere and has the `accept` (or address-only `request`) sent
 * through the listener's node; the rendezvous address names the sender's node, so relayed bytes
 * never cross between nodes. Without Redis a node keeps serving its own listeners, and writes its
 * whole registry share again when Redis is back (it may have restarted empty).
 */
export class ClusterDirectory implements ListenerDirectory {
  readonly nodeId: string;
  /** Live nodes as of this node's last heartbeat (used to give up on deliveries to dead nodes). */
  private live = new Set<string>();
  private readonly roundRobin = new Map<string, number>();
  /** Other nodes' listeners that left a sender of this node waiting. */
  private readonly silent = new SilenceMarks();
  private readonly undeliverable = new Map<string, { callback: () => void; at: number; nodeId: string }>();
  private readonly delivered = new Map<string, { from: string; channel: ListenerChannel; at: number }>();
  private readonly removedWhileDown: { entity: string; key: string }[] = [];
  private readonly timer: NodeJS.Timeout;
  private readonly heartbeatMs: number;
  private readonly nodeTtlMs: number;
  private readonly subscribed: Promise<void>;
  private started = false;
  private closed = false;

  constructor(
    private readonly local: LocalDirectory,
    private readonly redis: RedisPair,
    private readonly options: ClusterDirectoryOptions,
  ) {
    this.nodeId = local.nodeId;
    this.heartbeatMs = options.heartbeatMs ?? 1000;
    this.nodeTtlMs = options.nodeTtlMs ?? this.heartbeatMs * 5;
    this.live.add(this.nodeId);
    this.timer = setInterval(() => void this.heartbeat(false), this.heartbeatMs);
    this.timer.unref();
    const sub = redis.subscriber;
    this.subscribed = sub.subscribe(this.channelOf(this.nodeId)).then(() => undefined);
    this.subscribed.catch(() => undefined);
    sub.on('message', (channel: string, message: string) => {
      if (channel === this.channelOf(this.nodeId)) this.onNodeMessage(message);
    });
    redis.command.on('ready', () => {
      if (this.started && !this.closed) void this.resync();
    });
  }

  membership(): { nodes: string[]; redisUp: boolean } {
    return { nodes: [...this.live].sort(), redisUp: redisReady(this.redis.command) };
  }

  /**
   * Joins the cluster (call once, before serving): forgets entries a previous run of this node id
   * left behind (killed, restarted within the TTL), then announces this node.
   */
  async start(): Promise<void> {
    await this.subscribed;
    await this.purgeOwnEntries();
    await this.heartbeat(false);
    this.started = true;
  }

  async register(channel: ListenerChannel): Promise<boolean> {
    if (!this.local.addLocal(channel)) return false;
    // Without Redis the listener is served locally; resync() registers it when Redis is back.
    if (!redisReady(this.redis.command)) return true;
    const added = await this.redis.command
      .eval(REGISTER_SCRIPT, 2, this.hashOf(channel.directoryKey), this.nodesKey, String(this.options.maxPerEntity), this.local.keyOf(channel)!, this.entryJson(channel, channel.grant), String(this.nodeTtlMs))
      .catch(() => 1);
    if (added !== 1) {
      this.local.unregister(channel);
      return false;
    }
    return true;
  }

  refresh(channel: ListenerChannel, grant: Grant): void {
    const key = this.local.keyOf(channel);
    if (key === undefined || !redisReady(this.redis.command)) return;
    // A renewToken may carry another key of the rule: revocation on other nodes must follow it.
    this.redis.command.hset(this.hashOf(channel.directoryKey), key, this.entryJson(channel, grant)).catch(() => undefined);
  }

  unregister(channel: ListenerChannel): void {
    const key = this.local.keyOf(channel);
    this.local.unregister(channel);
    if (key === undefined) return;
    this.redis.command.hdel(this.hashOf(channel.directoryKey), key).catch(() => this.removedWhileDown.push({ entity: channel.directoryKey, key }));
    // Connections offered to this listener that it never took go back to their senders' nodes.
    for (const [ref, d] of this.delivered) {
      if (d.channel !== channel) continue;
      this.delivered.delete(ref);
      void this.send(d.from, { t: 'undeliverable', ref });
    }
  }

  async pick(entity: string, criteria: PickCriteria): Promise<ListenerRef | undefined> {
    if (!redisReady(this.redis.command)) {
      const local = this.local.pickLocal(entity, criteria);
      if (local) return local;
      throw new ClusterUnavailableError('the cluster registry (Redis) is unreachable and no listener of this hybrid connection is connected to this node');
    }
    const refs = (await this.entries(entity))
      .filter((ref) => !criteria.exclude?.has(ref.key))
      .filter((ref) => !criteria.allowed || criteria.allowed.has(ref.listenerId.toLowerCase()))
      .filter((ref) => !criteria.disallowed?.has(ref.listenerId.toLowerCase()))
      .filter((ref) => portEligible(ref.ports, criteria.port));
    if (refs.length === 0) return undefined;
    const slot = entity.toLowerCase();
    const now = Date.now();
    const index = pickRoundRobin(refs, (this.roundRobin.get(slot) ?? 0) % refs.length, (ref) => {
      if (ref.nodeId !== this.nodeId) return this.silent.silentUntil(ref.key) > now ? Eligibility.Strained : Eligibility.Ready;
      return ref.channel ? eligibilityOf(ref.channel.selectionState, now) : Eligibility.Excluded;
    });
    if (index < 0) return undefined;
    this.roundRobin.set(slot, index + 1);
    return refs[index];
  }

  noteSilent(target: ListenerRef): void {
    if (target.channel) target.channel.markSilent();
    else this.silent.mark(target.key);
  }

  noteResponsive(target: ListenerRef): void {
    if (target.channel) target.channel.markResponsive();
    else this.silent.clear(target.key);
  }

  async deliver(target: ListenerRef, json: string, ref: string, onUndeliverable: () => void): Promise<boolean> {
    if (target.nodeId === this.nodeId) return this.local.channelByKey(target.key)?.send(json) ?? false;
    this.undeliverable.set(ref, { callback: onUndeliverable, at: Date.now(), nodeId: target.nodeId });
    // PUBLISH counts the subscribers: 0 means the listener's node is gone (killed, drained).
    const receivers = await this.send(target.nodeId, { t: 'deliver', key: target.key, json, ref, from: this.nodeId });
    if (receivers > 0) return true;
    this.undeliverable.delete(ref);
    return false;
  }

  settle(ref: string): void {
    this.undeliverable.delete(ref);
  }

  async count(entity: string): Promise<number> {
    if (!redisReady(this.redis.command)) return this.local.registry.count(entity);
    return (await this.entries(entity)).length;
  }

  localChannels(entity?: string): ListenerChannel[] {
    return this.local.localChannels(entity);
  }

  /** Leaves the cluster: this node's listeners and its heartbeat are removed at once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimer(this.timer);
    const redis = this.redis.command;
    if (!redisReady(redis)) return;
    const pipeline = redis.pipeline();
    for (const channel of this.local.localChannels()) {
      const key = this.local.keyOf(channel);
      if (key) pipeline.hdel(this.hashOf(channel.directoryKey), key);
    }
    pipeline.zrem(this.nodesKey, this.nodeId);
    await pipeline.exec().catch(() => undefined);
  }

  /** Listeners of an entity on live nodes (the script drops entries of dead nodes on the way). */
  private async entries(entity: string): Promise<ListenerRef[]> {
    const flat = (await this.redis.command.eval(LIST_SCRIPT, 2, this.hashOf(entity), this.nodesKey, String(this.nodeTtlMs))) as string[];
    const refs: ListenerRef[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const key = flat[i]!;
      let entry: Entry;
      try {
        entry = JSON.parse(flat[i + 1]!) as Entry;
      } catch {
        continue;
      }
      const channel = entry.nodeId === this.nodeId ? this.local.channelByKey(key) : undefined;
      // This node's own listeners: the channel's current grant is authoritative.
      const ports = Array.isArray(entry.ports) ? entry.ports.filter((p): p is string => typeof p === 'string') : undefined;
      refs.push({ key, nodeId: entry.nodeId, listenerId: entry.listenerId, grant: channel?.grant ?? entry.grant, channel, ports });
    }
    return refs.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /**
   * Announces this node and learns which nodes are live. When this node was not live in the
   * registry's eyes (Redis restarted empty, a stall longer than the TTL), or `reregister` asks for
   * it, every local listener is written again: other nodes may have dropped them meanwhile.
   */
  private async heartbeat(reregister: boolean): Promise<void> {
    if (this.closed) return;
    const redis = this.redis.command;
    if (!redisReady(redis)) return;
    try {
      const [wasLive, ...members] = (await redis.eval(HEARTBEAT_SCRIPT, 1, this.nodesKey, this.nodeId, String(this.nodeTtlMs))) as [number, ...string[]];
      this.live = new Set([...members, this.nodeId]);
      if (this.started && (reregister || wasLive !== 1)) await this.writeLocalEntries();
    } catch {
      // Redis went away between the check and the call; the next beat tries again.
    }
    this.forgetDeadNodes();
    this.expireBookkeeping(Date.now());
    this.silent.prune();
  }

  /** After a Redis outage: announce this node first (so no one drops its entries), then rewrite them. */
  private async resync(): Promise<void> {
    const redis = this.redis.command;
    try {
      await this.heartbeat(true);
      for (const { entity, key } of this.removedWhileDown.splice(0)) await redis.hdel(this.hashOf(entity), key);
      this.options.log.info({ node: this.nodeId, listeners: this.local.localChannels().length }, 'cluster registry resynchronised');
    } catch {
      // Still flaky; the next 'ready' retries.
    }
  }

  /** Writes every local listener's entry (no limit check: they were admitted already). */
  private async writeLocalEntries(): Promise<void> {
    const pipeline = this.redis.command.pipeline();
    for (const channel of this.local.localChannels()) {
      const key = this.local.keyOf(channel);
      if (key && channel.isOpen) pipeline.hset(this.hashOf(channel.directoryKey), key, this.entryJson(channel, channel.grant));
    }
    if (pipeline.length > 0) await pipeline.exec();
  }

  /** Deletes entries of this node id left in the registry by a previous run of it. */
  private async purgeOwnEntries(): Promise<void> {
    const redis = this.redis.command;
    const prefix = `${this.nodeId}/`;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${escapeGlob(this.redis.prefix)}listeners:*`, 'COUNT', 500);
      cursor = next;
      for (const hash of keys) {
        const stale = (await redis.hkeys(hash)).filter((field) => field.startsWith(prefix));
        if (stale.length > 0) await redis.hdel(hash, ...stale);
      }
    } while (cursor !== '0');
  }

  /**
   * Connections handed to a node that has since died will never be answered: send them elsewhere.
   * (Only once a node TTL has passed since the hand-over: a listener of a node that is draining may
   * still be on its way to the rendezvous.)
   */
  private forgetDeadNodes(): void {
    const now = Date.now();
    for (const [ref, u] of this.undeliverable) {
      if (this.live.has(u.nodeId) || now - u.at < this.nodeTtlMs) continue;
      this.undeliverable.delete(ref);
      u.callback();
    }
  }

  private onNodeMessage(text: string): void {
    let message: NodeMessage;
    try {
      message = JSON.parse(text) as NodeMessage;
    } catch {
      return;
    }
    if (message.t === 'undeliverable') {
      const waiting = this.undeliverable.get(message.ref);
      this.undeliverable.delete(message.ref);
      waiting?.callback();
      return;
    }
    const channel = this.local.channelByKey(message.key);
    if (channel?.isOpen && channel.send(message.json)) {
      this.delivered.set(message.ref, { from: message.from, channel, at: Date.now() });
      return;
    }
    void this.send(message.from, { t: 'undeliverable', ref: message.ref });
  }

  private async send(nodeId: string, message: NodeMessage): Promise<number> {
    try {
      return await this.redis.command.publish(this.channelOf(nodeId), JSON.stringify(message));
    } catch {
      return 0;
    }
  }

  private expireBookkeeping(now: number): void {
    for (const [ref, d] of this.delivered) if (now - d.at > 60_000) this.delivered.delete(ref);
    for (const [ref, u] of this.undeliverable) if (now - u.at > 120_000) this.undeliverable.delete(ref);
  }

  private entryJson(channel: ListenerChannel, grant: Grant): string {
    const entry: Entry = { nodeId: this.nodeId, listenerId: channel.listenerId, grant, ports: channel.ports ? [...channel.ports] : undefined };
    return JSON.stringify(entry);
  }

  private get nodesKey(): string {
    return `${this.redis.prefix}nodes`;
  }

  private hashOf(entity: string): string {
    return `${this.redis.prefix}listeners:${entity.toLowerCase()}`;
  }

  private channelOf(nodeId: string): string {
    return `${this.redis.prefix}node:${nodeId}`;
  }
}

/** A literal string inside a SCAN MATCH pattern. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
