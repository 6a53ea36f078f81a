import type { ListenerChannel } from './listener-channel.js';

export interface ListenerCriteria {
  /** Only these listener ids (Microsoft-Relay-AllowedListeners). */
  allowed?: ReadonlySet<string>;
  /** Never these listener ids (Microsoft-Relay-DisallowedListeners). */
  disallowed?: ReadonlySet<string>;
  /** Skip these channels (already tried for this connection). */
  exclude?: ReadonlySet<ListenerChannel>;
}

/**
 * The control channels connected to this relay, per hybrid connection. New connections are
 * spread round-robin over the open channels that meet the sender's criteria.
 */
export class ListenerRegistry {
  private readonly byEntity = new Map<string, { channels: ListenerChannel[]; next: number }>();

  constructor(private readonly maxPerEntity: number) {}

  /** Adds a channel unless the entity already has the maximum number of listeners. */
  add(channel: ListenerChannel): boolean {
    const key = channel.entity.toLowerCase();
    let slot = this.byEntity.get(key);
    if (!slot) {
      slot = { channels: [], next: 0 };
      this.byEntity.set(key, slot);
    }
    if (slot.channels.length >= this.maxPerEntity) return false;
    slot.channels.push(channel);
    return true;
  }

  remove(channel: ListenerChannel): void {
    const key = channel.entity.toLowerCase();
    const slot = this.byEntity.get(key);
    if (!slot) return;
    slot.channels = slot.channels.filter((c) => c !== channel);
    if (slot.channels.length === 0) this.byEntity.delete(key);
  }

  count(entity: string): number {
    return this.byEntity.get(entity.toLowerCase())?.channels.length ?? 0;
  }

  channels(entity?: string): ListenerChannel[] {
    if (entity !== undefined) return [...(this.byEntity.get(entity.toLowerCase())?.channels ?? [])];
    return [...this.byEntity.values()].flatMap((s) => s.channels);
  }

  /** The next listener in round-robin order that meets the criteria, or undefined. */
  pick(entity: string, criteria: ListenerCriteria = {}): ListenerChannel | undefined {
    const slot = this.byEntity.get(entity.toLowerCase());
    if (!slot) return undefined;
    const n = slot.channels.length;
    for (let i = 0; i < n; i++) {
      const index = (slot.next + i) % n;
      const channel = slot.channels[index]!;
      if (!channel.isOpen || criteria.exclude?.has(channel)) continue;
      const id = channel.listenerId.toLowerCase();
      if (criteria.allowed && !criteria.allowed.has(id)) continue;
      if (criteria.disallowed?.has(id)) continue;
      slot.next = (index + 1) % n;
      return channel;
    }
    return undefined;
  }
}

/** Parses a comma-separated listener id header into a lower-cased set (undefined when absent). */
export function parseListenerIdList(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  const text = Array.isArray(value) ? value.join(',') : value;
  const ids = text
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s.length > 0);
  return new Set(ids);
}
