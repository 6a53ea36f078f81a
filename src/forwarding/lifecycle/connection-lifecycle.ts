import type { Logger } from '../../util/logger.js';
import type { ConnectionKind } from './connection-fields.js';
import { TrackedConnection, type ConnectionRegistry, type LifecycleObserver, type OpenConnection } from './tracked-connection.js';
import { clearTimer } from '../../util/clear-timer.js';

interface IdleWaiter {
  matches: (connection: TrackedConnection) => boolean;
  wake: () => void;
}

/**
 * The connections one process carries (the relay's relayed connections and HTTP requests, a
 * bridge's or a tunnel command's connections): opened here, ended here, drained here. Metrics,
 * events and the dashboard observe it; nothing polls it.
 */
export class ConnectionLifecycle implements ConnectionRegistry {
  private readonly live = new Set<TrackedConnection>();
  private readonly waiters = new Set<IdleWaiter>();
  private readonly observerList: LifecycleObserver[] = [];
  private sequence = 0;

  constructor(private readonly log: Logger) {}

  get observers(): readonly LifecycleObserver[] {
    return this.observerList;
  }

  /** Connections open now. */
  get size(): number {
    return this.live.size;
  }

  connections(): IterableIterator<TrackedConnection> {
    return this.live.values();
  }

  count(matches: (connection: TrackedConnection) => boolean): number {
    let n = 0;
    for (const connection of this.live) if (matches(connection)) n++;
    return n;
  }

  observe(observer: LifecycleObserver): () => void {
    this.observerList.push(observer);
    return () => {
      const i = this.observerList.indexOf(observer);
      if (i >= 0) this.observerList.splice(i, 1);
    };
  }

  open(options: OpenConnection): TrackedConnection {
    const connection = new TrackedConnection(++this.sequence, this.log, this, options);
    this.live.add(connection);
    for (const observer of this.observerList) observer.opened?.(connection);
    return connection;
  }

  release(connection: TrackedConnection): void {
    if (!this.live.delete(connection)) return;
    for (const waiter of [...this.waiters]) if (waiter.matches(connection) && this.count(waiter.matches) === 0) waiter.wake();
  }

  /**
   * Resolves once no open connection matches (all of them by default), or after `timeoutMs`;
   * true when they did end in time.
   */
  whenIdle(timeoutMs: number, matches: (connection: TrackedConnection) => boolean = () => true): Promise<boolean> {
    if (this.count(matches) === 0) return Promise.resolve(true);
    if (timeoutMs <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter: IdleWaiter = {
        matches,
        wake: () => {
          clearTimer(timer);
          this.waiters.delete(waiter);
          resolve(true);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        resolve(false);
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /**
   * Ends the datagram flows at once (they have no end of their own to wait for), waits up to
   * `graceMs` for the other connections of `kinds` to finish, then cuts what is left. Resolves with
   * the number of connections cut.
   */
  async drain(graceMs: number, kinds: readonly ConnectionKind[] = ['stream', 'datagram', 'http']): Promise<number> {
    const ofKinds = (c: TrackedConnection) => kinds.includes(c.kind);
    for (const connection of [...this.live]) if (connection.kind === 'datagram' && ofKinds(connection)) connection.abort();
    await this.whenIdle(graceMs, ofKinds);
    const left = [...this.live].filter(ofKinds);
    for (const connection of left) connection.abort();
    return left.length;
  }
}
