import type { Logger } from '../../util/logger.js';
import type { Grant } from '../authorizer.js';
import type { ListenerChannel } from '../listener-channel.js';
import type { ListenerDirectory, ListenerRef, LocalDirectory, PickCriteria } from '../listener-directory.js';
import { ClusterUnavailableError, redisReady, type RedisPair } from './redis-connection.js';

export interface ClusterDirectoryOptions {
  maxPerEntity: number;
  log: Logger;
  /** How often this node announces itself, and after how long a silent node is considered gone. */
  heartbeatMs?: number;
  nodeTtlMs?: number;
}

/** A registry entry: one listener, on one node. */
interface Entry {
  nodeId: string;
  listenerId: string;
  grant: Grant;
}

type NodeMessage = { t: 'deliver'; key: string; json: string; ref: string; from: string } | { t: 'undeliverable'; ref: string };

/** Adds a listener unless the entity already has the maximum on live nodes; drops entries of dead nodes. */
const REGISTER_SCRIPT = `
local entries = redis.call('HGETALL', KEYS[1])
local live = {}
for i = 4, #ARGV do live[ARGV[i]] = true end
local count = 0
for i = 1, #entries, 2 do
  local node = string.match(entries[i], '^(.*)/[^/]*$')
  if live[node] then count = count + 1 else redis.call('HDEL', KEYS[1], entries[i]) end
end
if count >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
return 1
`;

/**
 * The cluster-wide listener directory. Every node keeps its listeners in Redis hashes, announces
 * itself with heartbeats, and receives commands for its listeners on its own pub/sub channel. A
 * sender's node picks a listener anywhere and has the `accept` (or address-only `request`) sent
 * through the listener's node; the rendezvous address names the sender's node, so relayed bytes
 * never cross between nodes. Without Redis a node keeps serving its own listeners.
 */
export class ClusterDirectory implements ListenerDirectory {
  readonly nodeId: string;
  private live = new Set<string>();
  private readonly roundRobin = new Map<string, number>();
  private readonly undeliverable = new Map<string, { callback: () => void; at: number }>();
  private readonly delivered = new Map<string, { from: string; channel: ListenerChannel; at: number }>();
  private readonly unsynced = new Set<ListenerChannel>();
  private readonly removedWhileDown: { entity: string; key: string }[] = [];
  private readonly timer: NodeJS.Timeout;
  private readonly heartbeatMs: number;
  private readonly nodeTtlMs: number;
  private closed = false;

  constructor(
    private readonly local: LocalDirectory,
    private readonly redis: RedisPair,
    private readonly options: ClusterDirectoryOptions,
  ) {
    this.nodeId = local.nodeId;
    this.heartbeatMs = options.heartbeatMs ?? 1000;
    this.nodeTtlMs = options.nodeTtlMs ?? 5000;
    this.live.add(this.nodeId);
    this.timer = setInterval(() => void this.heartbeat(), this.heartbeatMs);
    this.timer.unref();
    const sub = redis.subscriber;
    void sub.subscribe(this.channelOf(this.nodeId)).catch(() => undefined);
    sub.on('message', (channel: string, message: string) => {
      if (channel === this.channelOf(this.nodeId)) this.onNodeMessage(message);
    });
    redis.command.on('ready', () => void this.resync());
  }

  /** Announces this node (call once after construction, before serving). */
  async start(): Promise<void> {
    await this.heartbeat();
  }

  async register(channel: ListenerChannel): Promise<boolean> {
    if (!this.local.addLocal(channel)) return false;
    if (!redisReady(this.redis.command)) {
      this.unsynced.add(channel);
      return true;
    }
    const added = await this.redis.command
      .eval(REGISTER_SCRIPT, 1, this.hashOf(channel.entity), String(this.options.maxPerEntity), this.local.keyOf(channel)!, this.entryJson(channel), ...this.live)
      .catch(() => {
        this.unsynced.add(channel);
        return 1;
      });
    if (added !== 1) {
      this.local.unregister(channel);
      return false;
    }
    return true;
  }

  unregister(channel: ListenerChannel): void {
    const key = this.local.keyOf(channel);
    this.local.unregister(channel);
    this.unsynced.delete(channel);
    if (key === undefined) return;
    this.redis.command.hdel(this.hashOf(channel.entity), key).catch(() => this.removedWhileDown.push({ entity: channel.entity, key }));
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
      .filter((ref) => ref.nodeId !== this.nodeId || ref.channel?.isOpen);
    if (refs.length === 0) return undefined;
    const slot = entity.toLowerCase();
    const next = (this.roundRobin.get(slot) ?? 0) % refs.length;
    this.roundRobin.set(slot, next + 1);
    return refs[next];
  }

  async deliver(target: ListenerRef, json: string, ref: string, onUndeliverable: () => void): Promise<boolean> {
    if (target.nodeId === this.nodeId) return this.local.channelByKey(target.key)?.send(json) ?? false;
    this.undeliverable.set(ref, { callback: onUndeliverable, at: Date.now() });
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
    clearInterval(this.timer);
    const redis = this.redis.command;
    if (!redisReady(redis)) return;
    const pipeline = redis.pipeline();
    for (const channel of this.local.localChannels()) {
      const key = this.local.keyOf(channel);
      if (key) pipeline.hdel(this.hashOf(channel.entity), key);
    }
    pipeline.zrem(`${this.redis.prefix}nodes`, this.nodeId);
    await pipeline.exec().catch(() => undefined);
  }

  /** Listeners of an entity on live nodes (entries of dead nodes are dropped on the way). */
  private async entries(entity: string): Promise<ListenerRef[]> {
    const hash = this.hashOf(entity);
    const raw = await this.redis.command.hgetall(hash);
    const refs: ListenerRef[] = [];
    const dead: string[] = [];
    for (const [key, value] of Object.entries(raw)) {
      let entry: Entry;
      try {
        entry = JSON.parse(value) as Entry;
      } catch {
        dead.push(key);
        continue;
      }
      if (!this.live.has(entry.nodeId)) {
        dead.push(key);
        continue;
      }
      const channel = entry.nodeId === this.nodeId ? this.local.channelByKey(key) : undefined;
      refs.push({ key, nodeId: entry.nodeId, listenerId: entry.listenerId, grant: entry.grant, channel });
    }
    if (dead.length > 0) this.redis.command.hdel(hash, ...dead).catch(() => undefined);
    return refs.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  private async heartbeat(): Promise<void> {
    if (this.closed) return;
    const redis = this.redis.command;
    if (!redisReady(redis)) return;
    const now = Date.now();
    const nodes = `${this.redis.prefix}nodes`;
    try {
      const results = await redis
        .multi()
        .zadd(nodes, now, this.nodeId)
        .zrangebyscore(nodes, now - this.nodeTtlMs, '+inf')
        .zremrangebyscore(nodes, '-inf', now - 3_600_000)
        .exec();
      const members = results?.[1]?.[1];
      if (Array.isArray(members)) this.live = new Set([...(members as string[]), this.nodeId]);
    } catch {
      // Redis went away between the check and the call; the next beat tries again.
    }
    this.expireBookkeeping(now);
  }

  /** After a Redis outage: register what connected meanwhile, forget what left meanwhile. */
  private async resync(): Promise<void> {
    const redis = this.redis.command;
    try {
      for (const { entity, key } of this.removedWhileDown.splice(0)) await redis.hdel(this.hashOf(entity), key);
      for (const channel of [...this.unsynced]) {
        const key = this.local.keyOf(channel);
        if (key) await redis.hset(this.hashOf(channel.entity), key, this.entryJson(channel));
        this.unsynced.delete(channel);
      }
      await this.heartbeat();
    } catch {
      // Still flaky; the next 'ready' retries.
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

  private entryJson(channel: ListenerChannel): string {
    const entry: Entry = { nodeId: this.nodeId, listenerId: channel.listenerId, grant: channel.grant };
    return JSON.stringify(entry);
  }

  private hashOf(entity: string): string {
    return `${this.redis.prefix}listeners:${entity.toLowerCase()}`;
  }

  private channelOf(nodeId: string): string {
    return `${this.redis.prefix}node:${nodeId}`;
  }
}
