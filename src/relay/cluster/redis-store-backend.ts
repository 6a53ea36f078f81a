import type { NamespaceDocument } from '../namespace-model.js';
import { StoreError, type StoreBackend } from '../namespace-store.js';
import { redisReady, type RedisPair } from './redis-connection.js';
import { sleep } from '../../util/sleep.js';

const MAX_ATTEMPTS = 100;
/** Longest pause before trying a lost compare-and-set again (randomised, growing per attempt). */
const MAX_BACKOFF_MS = 50;

/**
 * Compare-and-set of the namespace document, with the change announcement in the same step.
 * KEYS: document, change channel, the hosted-namespace catalog set. ARGV: the text the change was
 * computed from ('' = none), new text, stamp, the hosted namespace's name ('' = the default one,
 * which is in no catalog). 1 written, 0 changed meanwhile, -1 the namespace is no longer in the catalog.
 * (A script rather than WATCH/MULTI: WATCH is per connection, and the registry's own MULTI/EXEC on
 * the shared command connection would silently drop it.)
 */
const COMPARE_AND_SET = `
if ARGV[4] ~= '' and redis.call('SISMEMBER', KEYS[3], ARGV[4]) == 0 then return -1 end
local current = redis.call('GET', KEYS[1])
if (current or '') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('PUBLISH', KEYS[2], ARGV[3])
return 1
`;

/**
 * The namespace document in Redis, shared by every node. Writes are compare-and-set (retried when
 * another node wrote in between), so concurrent changes from two nodes never lose one another;
 * each change is announced on a channel, and every node reloads and applies it (a renewed key
 * fails everywhere). Redis failures surface as StoreError 503.
 */
export class RedisStoreBackend implements StoreBackend {
  private readonly key: string;
  private readonly channel: string;

  private readonly unwatch: (() => void)[] = [];

  constructor(
    private readonly redis: RedisPair,
    /** Between the cluster's prefix and `namespace`: `ns:{name}:` for a hosted namespace, '' for the default one. */
    scope = '',
    /** A hosted namespace's entry in the catalog: writes stop once it is gone. */
    private readonly catalogEntry?: { setKey: string; name: string },
  ) {
    this.key = `${redis.prefix}${scope}namespace`;
    this.channel = `${redis.prefix}${scope}namespace-changed`;
  }

  async load(): Promise<NamespaceDocument | undefined> {
    const text = await this.read();
    return text === null ? undefined : this.parse(text);
  }

  async update(change: (doc: NamespaceDocument | undefined) => NamespaceDocument): Promise<NamespaceDocument> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const text = await this.read();
      const current = text === null ? undefined : this.parse(text);
      const next = change(current);
      // Nothing to write (e.g. "create unless it exists" found it).
      if (next === current && current !== undefined) return current;
      const written = await this.call(() =>
        this.redis.command.eval(COMPARE_AND_SET, 3, this.key, this.channel, this.catalogEntry?.setKey ?? this.key, text ?? '', JSON.stringify(next), String(Date.now()), this.catalogEntry?.name ?? ''),
      );
      if (written === 1) return next;
      if (written === -1) throw new StoreError(`namespace "${this.catalogEntry?.name}" was deleted`, 404);
      // Another node wrote in between: read again and reapply, after a random pause, so a node
      // with a long queue of changes cannot win every round against another one.
      await sleep(Math.random() * Math.min(MAX_BACKOFF_MS, 2 ** attempt));
    }
    throw new StoreError('the namespace document kept changing under this update; try again', 503);
  }

  async watch(onChange: () => void): Promise<void> {
    const subscriber = this.redis.subscriber;
    const onMessage = (channel: string) => {
      if (channel === this.channel) onChange();
    };
    subscriber.on('message', onMessage);
    // Changes made while this node could not hear them are picked up when Redis comes back, and a
    // document lost with Redis is written back (NamespaceStore.reload); either connection may be
    // ready last, and a reload needs the command connection.
    subscriber.on('ready', onChange);
    this.redis.command.on('ready', onChange);
    this.unwatch.push(() => {
      subscriber.off('message', onMessage);
      subscriber.off('ready', onChange);
      this.redis.command.off('ready', onChange);
    });
    await subscriber.subscribe(this.channel);
  }

  /** Stops watching (a deleted hosted namespace); the Redis connections stay, they are the cluster's. */
  async close(): Promise<void> {
    const watched = this.unwatch.length > 0;
    for (const stop of this.unwatch.splice(0)) stop();
    // Not awaited: with Redis away the command would wait in the offline queue, and stopping must not.
    if (watched) void this.redis.subscriber.unsubscribe(this.channel).catch(() => undefined);
  }

  private read(): Promise<string | null> {
    return this.call(() => this.redis.command.get(this.key));
  }

  private parse(text: string): NamespaceDocument {
    try {
      return JSON.parse(text) as NamespaceDocument;
    } catch {
      throw new StoreError(`the namespace document in Redis (${this.key}) is not valid JSON`, 500);
    }
  }

  private call<T>(command: () => Promise<T>): Promise<T> {
    return storeCall(this.redis, command);
  }
}

/** Runs a command of the cluster store; Redis being away or failing becomes StoreError 503. */
export async function storeCall<T>(redis: RedisPair, command: () => Promise<T>): Promise<T> {
  if (!redisReady(redis.command)) throw new StoreError('the cluster store (Redis) is unreachable; try again when it is back', 503);
  try {
    return await command();
  } catch (err) {
    throw new StoreError(`the cluster store (Redis) failed: ${(err as Error).message}; try again`, 503);
  }
}
