import { Redis } from 'ioredis';
import type { Logger } from '../../util/logger.js';

export interface RedisPair {
  /** Commands. Fails fast while Redis is unreachable (no offline queue), so the relay can fall back. */
  command: Redis;
  /** Pub/sub subscriptions (a subscribed connection can run no other command). */
  subscriber: Redis;
  /** Key prefix shared by every node of one cluster. */
  prefix: string;
  close(): Promise<void>;
}

export class ClusterUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClusterUnavailableError';
  }
}

/** Redis URL as the user wrote it, minus any password, for logs and errors. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'redis://(invalid URL)';
  }
}

/**
 * Opens the two Redis connections a relay node needs and waits until both are ready. Reconnection
 * after a Redis outage is automatic (ioredis), with the retry delay capped at 2 s.
 */
export async function connectRedis(url: string, prefix: string, log: Logger, connectTimeoutMs = 5000): Promise<RedisPair> {
  const where = redactRedisUrl(url);
  const options = {
    lazyConnect: true,
    connectTimeout: connectTimeoutMs,
    retryStrategy: (times: number) => Math.min(100 * times, 2000),
    reconnectOnError: () => true,
  };
  const command = new Redis(url, { ...options, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
  const subscriber = new Redis(url, { ...options, maxRetriesPerRequest: null });
  let down = false;
  let connected = false;
  let lastError: Error | undefined;
  const onError = (err: Error) => {
    lastError = err;
    // Before the first connection there is nothing to serve yet: the start fails instead.
    if (connected && !down) log.warn({ redis: where, reason: err.message }, 'Redis unreachable; serving what this node can without it');
    down = true;
  };
  const onReady = () => {
    if (down) log.info({ redis: where }, 'Redis reachable again');
    down = false;
  };
  command.on('error', onError);
  subscriber.on('error', () => undefined);
  command.on('ready', onReady);
  try {
    await Promise.all([command.connect(), subscriber.connect()]);
  } catch (err) {
    command.disconnect();
    subscriber.disconnect();
    // ioredis rejects with "Connection is closed"; the error event before it says why.
    throw new ClusterUnavailableError(`cannot reach Redis at ${where}: ${(lastError ?? (err as Error)).message}`);
  }
  connected = true;
  down = false;
  return {
    command,
    subscriber,
    prefix,
    close: async () => {
      await Promise.allSettled([command.quit(), subscriber.quit()]);
      command.disconnect();
      subscriber.disconnect();
    },
  };
}

/** True when commands can be sent now. */
export function redisReady(redis: Redis): boolean {
  return redis.status === 'ready';
}
