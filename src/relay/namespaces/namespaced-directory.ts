import type { Grant } from '../authorizer.js';
import type { ListenerChannel } from '../listener-channel.js';
import type { ListenerDirectory, ListenerRef, PickCriteria } from '../listener-directory.js';
import { DEFAULT_NAMESPACE, directoryKey } from './namespace-name.js';

/**
 * One namespace's view of the directory every namespace shares: hybrid connection names are
 * turned into the namespace's keys on the way in, and only the namespace's own control channels
 * come out, so a namespace never sees, counts or picks another one's listeners.
 */
export class NamespacedDirectory implements ListenerDirectory {
  /** The cluster's membership, when there is a cluster: the same for every namespace. */
  readonly membership?: () => { nodes: string[]; redisUp: boolean };
  private readonly own = new Set<ListenerChannel>();

  constructor(
    private readonly shared: ListenerDirectory,
    readonly namespace: string,
  ) {
    if (shared.membership) this.membership = () => shared.membership!();
  }

  get nodeId(): string {
    return this.shared.nodeId;
  }

  async register(channel: ListenerChannel): Promise<boolean> {
    channel.namespace = this.namespace;
    const registered = await this.shared.register(channel);
    // A channel that closed while it was being registered has already been unregistered.
    if (registered && channel.isOpen) this.own.add(channel);
    return registered;
  }

  unregister(channel: ListenerChannel): void {
    this.own.delete(channel);
    this.shared.unregister(channel);
  }

  /** This namespace's control channels on this node, counted without walking every namespace's. */
  get localCount(): number {
    return this.own.size;
  }

  refresh(channel: ListenerChannel, grant: Grant): void {
    this.shared.refresh(channel, grant);
  }

  pick(entity: string, criteria: PickCriteria): Promise<ListenerRef | undefined> {
    return this.shared.pick(this.key(entity), criteria);
  }

  deliver(target: ListenerRef, json: string, ref: string, onUndeliverable: () => void): Promise<boolean> {
    return this.shared.deliver(target, json, ref, onUndeliverable);
  }

  settle(ref: string): void {
    this.shared.settle(ref);
  }

  noteSilent(target: ListenerRef): void {
    this.shared.noteSilent(target);
  }

  noteResponsive(target: ListenerRef): void {
    this.shared.noteResponsive(target);
  }

  count(entity: string): Promise<number> {
    return this.shared.count(this.key(entity));
  }

  localChannels(entity?: string): ListenerChannel[] {
    if (entity !== undefined) return this.shared.localChannels(this.key(entity));
    return [...this.own];
  }


  /** The shared directory outlives its namespaces: closing one view releases nothing. */
  async close(): Promise<void> {}

  private key(entity: string): string {
    return this.namespace === DEFAULT_NAMESPACE ? entity : directoryKey(this.namespace, entity);
  }
}
