import type { NamespaceDocument } from '../namespace-model.js';
import { CatalogFullError, type NamespaceCatalog } from '../namespaces/namespace-catalog.js';
import type { RedisPair } from './redis-connection.js';
import { RedisStoreBackend, storeCall } from './redis-store-backend.js';

/**
 * KEYS: the set of names, the document, the change channel, the catalog's presence mark. ARGV: name,
 * document, cap. 1 created, 0 exists, -1 full. The set says what exists (a document without a name in
 * the set is a leftover and is replaced).
 */
const CREATE = `
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 0 end
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[3]) then return -1 end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('SET', KEYS[4], '1')
redis.call('PUBLISH', KEYS[3], ARGV[1])
return 1
`;

/**
 * KEYS: the set of names, the presence mark, the change channel. ARGV: the names a node hosts. The
 * mark is set with the first namespace and never removed, so an empty set with the mark is "all
 * deleted", and a missing mark is a catalog Redis lost: the names are written back (1), else 0.
 */
const RECOVER = `
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[2], '1')
for _, name in ipairs(ARGV) do redis.call('SADD', KEYS[1], name) end
redis.call('PUBLISH', KEYS[3], '')
return 1
`;

/** KEYS: the set of names, the document, the change channel. ARGV: name. */
const REMOVE = `
local removed = redis.call('SREM', KEYS[1], ARGV[1]) + redis.call('DEL', KEYS[2])
if removed > 0 then redis.call('PUBLISH', KEYS[3], ARGV[1]) end
return removed
`;

/**
 * The cluster's hosted namespaces in Redis: a set of names, one document per namespace
 * (`{prefix}ns:{name}:namespace`, written as the default namespace's is), and a channel on which
 * a create or delete is announced, so that a namespace created on one node serves on every node
 * and a deleted one is cut everywhere.
 */
export class RedisNamespaceCatalog implements NamespaceCatalog {
  private readonly setKey: string;
  private readonly channel: string;
  private readonly presenceKey: string;

  constructor(private readonly redis: RedisPair) {
    this.setKey = `${redis.prefix}namespaces`;
    this.channel = `${redis.prefix}namespaces-changed`;
    this.presenceKey = `${redis.prefix}namespaces-present`;
    // One watcher per hosted namespace on the shared connections.
    redis.subscriber.setMaxListeners(0);
    redis.command.setMaxListeners(0);
  }

  list(): Promise<string[]> {
    return this.call(() => this.redis.command.smembers(this.setKey));
  }

  async create(name: string, doc: NamespaceDocument, max: number): Promise<boolean> {
    const result = await this.call(() => this.redis.command.eval(CREATE, 4, this.setKey, this.documentKey(name), this.channel, this.presenceKey, name, JSON.stringify(doc), String(max)));
    if (result === -1) throw new CatalogFullError(max);
    return result === 1;
  }

  async remove(name: string): Promise<boolean> {
    const removed = await this.call(() => this.redis.command.eval(REMOVE, 3, this.setKey, this.documentKey(name), this.channel, name));
    return Number(removed) > 0;
  }

  async recover(hosted: string[]): Promise<boolean> {
    // A node that hosts nothing has nothing to give back, and must not mark the catalog present for nodes that do.
    if (hosted.length === 0) return false;
    return (await this.call(() => this.redis.command.eval(RECOVER, 3, this.setKey, this.presenceKey, this.channel, ...hosted))) === 1;
  }

  backendFor(name: string): RedisStoreBackend {
    // Writes of the document are refused once the name has left the set: a node's copy of a
    // namespace deleted elsewhere must not bring its document back.
    return new RedisStoreBackend(this.redis, this.scopeOf(name), { setKey: this.setKey, name });
  }

  async watch(onChange: () => void): Promise<void> {
    this.redis.subscriber.on('message', (channel: string) => {
      if (channel === this.channel) onChange();
    });
    // Namespaces created or deleted while this node could not hear it are picked up when Redis is
    // back (and a lost catalog written back); either connection may be ready last, and the catalog
    // is read on the command connection.
    this.redis.subscriber.on('ready', onChange);
    this.redis.command.on('ready', onChange);
    await this.redis.subscriber.subscribe(this.channel);
  }

  private scopeOf(name: string): string {
    return `ns:${name}:`;
  }

  private documentKey(name: string): string {
    return `${this.redis.prefix}${this.scopeOf(name)}namespace`;
  }

  private call<T>(command: () => Promise<T>): Promise<T> {
    return storeCall(this.redis, command);
  }
}
