import type { NamespaceDocument } from '../namespace-model.js';
import { StoreError, type StoreBackend } from '../namespace-store.js';
import { redisReady, type RedisPair } from './redis-connection.js';

const MAX_ATTEMPTS = 20;

/**
 * The namespace document in Redis, shared by every node. Writes are optimistic transactions
 * (WATCH/MULTI) so concurrent changes from two nodes never lose one another; each change is
 * announced on a channel, and every node reloads and applies it (a renewed key fails everywhere).
 */
export class RedisStoreBackend implements StoreBackend {
  private readonly key: string;
  private readonly channel: string;

  constructor(private readonly redis: RedisPair) {
    this.key = `${redis.prefix}namespace`;
    this.channel = `${redis.prefix}namespace-changed`;
  }

  async load(): Promise<NamespaceDocument | undefined> {
    this.assertReady();
    const text = await this.redis.command.get(this.key);
    if (text === null) return undefined;
    try {
      return JSON.parse(text) as NamespaceDocument;
    } catch {
      throw new StoreError(`the namespace document in Redis (${this.key}) is not valid JSON`, 500);
    }
  }

  async update(change: (doc: NamespaceDocument | undefined) => NamespaceDocument): Promise<NamespaceDocument> {
    const redis = this.redis.command;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      this.assertReady();
      await redis.watch(this.key);
      let next: NamespaceDocument;
      try {
        const text = await redis.get(this.key);
        next = change(text === null ? undefined : (JSON.parse(text) as NamespaceDocument));
      } catch (err) {
        await redis.unwatch();
        throw err;
      }
      const result = await redis.multi().set(this.key, JSON.stringify(next)).publish(this.channel, String(Date.now())).exec();
      if (result !== null) return next;
      // Another node wrote in between: read again and reapply.
    }
    throw new StoreError('the namespace document kept changing under this update; try again', 503);
  }

  watch(onChange: () => void): void {
    const subscriber = this.redis.subscriber;
    void subscriber.subscribe(this.channel).catch(() => undefined);
    subscriber.on('message', (channel: string) => {
      if (channel === this.channel) onChange();
    });
    // Changes made while this node could not hear them are picked up when Redis comes back.
    subscriber.on('ready', onChange);
  }

  private assertReady(): void {
    if (!redisReady(this.redis.command)) throw new StoreError('the cluster store (Redis) is unreachable; try again when it is back', 503);
  }
}
