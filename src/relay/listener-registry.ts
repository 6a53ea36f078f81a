import type { ListenerChannel } from './listener-channel.js';
import { Eligibility, eligibilityOf, pickRoundRobin } from './listener-selection.js';
import { portEligible, type PortWanted } from './port-routing.js';

export interface ListenerCriteria {
  /** Only these listener ids (Microsoft-Relay-AllowedListeners). */
  allowed?: ReadonlySet<string>;
  /** Never these listener ids (Microsoft-Relay-DisallowedListeners). */
  disallowed?: ReadonlySet<string>;
  /** Skip these channels (already tried for this connection). */
  exclude?: ReadonlySet<ListenerChannel>;
  /** Only listeners of this port-routing tier. */
  port?: PortWanted;
}

/**
 * The control channels connected to this relay, per hybrid connection. New connections are
 * spread round-robin over the channels that meet the sender's criteria and can take work now
 * (listener-selection.ts).
 */
export class ListenerRegistry {
  private readonly byEntity = new Map<string, { channels: ListenerChannel[]; next: number }>();
  private total = 0;

  constructor(private readonly maxPerEntity: number) {}

  /** Adds a channel unless the entity already has the maximum number of listeners. */
  add(channel: ListenerChannel): boolean {
    const key = channel.directoryKey.toLowerCase();
    let slot = this.byEntity.get(key);
    if (!slot) {
      slot = { channels: [], next: 0 };
      this.byEntity.set(key, slot);
    }
    if (slot.channels.length >= this.maxPerEntity) return false;
    slot.channels.push(channel);
    this.total++;
    return true;
  }

  /** Control channels of every hybrid connection. */
  get size(): number {
    return this.total;
  }

  remove(channel: ListenerChannel): void {
    const key = channel.directoryKey.toLowerCase();
    const slot = this.byEntity.get(key);
    if (!slot) return;
    const before = slot.channels.length;
    slot.channels = slot.channels.filter((c) => c !== channel);
    this.total -= before - slot.channels.length;
    if (slot.channels.length === 0) this.byEntity.delete(key);
  }

  count(entity: string): number {
    return this.byEntity.get(entity.toLowerCase())?.channels.length ?? 0;
  }

  channels(entity?: string): ListenerChannel[] {
    if (entity !== undefined) return [...(this.byEntity.get(entity.toLowerCase())?.channels ?? [])];
    return [...this.byEntity.values()].flatMap((s) => s.channels);
  }

  /** The next listener in round-robin order that meets the criteria and can take work, or undefined. */
  pick(entity: string, criteria: ListenerCriteria = {}): ListenerChannel | undefined {
    const slot = this.byEntity.get(entity.toLowerCase());
    if (!slot) return undefined;
    const now = Date.now();
    const index = pickRoundRobin(slot.channels, slot.next, (channel) => {
      if (criteria.exclude?.has(channel)) return Eligibility.Excluded;
      const id = channel.listenerId.toLowerCase();
      if (criteria.allowed && !criteria.allowed.has(id)) return Eligibility.Excluded;
      if (criteria.disallowed?.has(id)) return Eligibility.Excluded;
      if (!portEligible(channel.ports, criteria.port)) return Eligibility.Excluded;
      return eligibilityOf(channel.selectionState, now);
    });
    if (index < 0) return undefined;
    slot.next = (index + 1) % slot.channels.length;
    return slot.channels[index];
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
