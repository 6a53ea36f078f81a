/**
 * Lua scripts of the cluster's listener registry. Liveness is decided inside Redis, from the nodes'
 * heartbeat scores and Redis's own clock, at the moment of each call: a node that just joined is
 * live for everyone at once, and no node deletes another's entries from a stale view (or from a
 * clock that differs from the other nodes').
 *
 * Keys: a hash per hybrid connection (field `{nodeId}/{sequence}`, value the entry JSON) and one
 * sorted set of node ids scored by their last heartbeat (Redis time, milliseconds).
 */

/** `now` in milliseconds and the set of nodes whose heartbeat is younger than the TTL (ARGV ttl). */
const LIVE_NODES = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function live_nodes(nodes_key, ttl)
  local live = {}
  for _, n in ipairs(redis.call('ZRANGEBYSCORE', nodes_key, now_ms() - ttl, '+inf')) do live[n] = true end
  return live
end
local function node_of(field)
  return string.match(field, '^(.*)/[^/]*$')
end
`;

/**
 * Heartbeat. KEYS: nodes. ARGV: nodeId, ttlMs.
 * Returns { wasLive (1/0: this node's previous beat was within the TTL), live node ids... }.
 * A node that was not live (first beat, Redis restarted empty, or it stalled longer than the TTL)
 * re-registers its listeners, since other nodes may have dropped them meanwhile.
 */
export const HEARTBEAT_SCRIPT = `${LIVE_NODES}
local now = now_ms()
local ttl = tonumber(ARGV[2])
local previous = redis.call('ZSCORE', KEYS[1], ARGV[1])
local was_live = 0
if previous and tonumber(previous) >= now - ttl then was_live = 1 end
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 3600000)
local result = { was_live }
for _, n in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], now - ttl, '+inf')) do table.insert(result, n) end
return result
`;

/**
 * The entries of one hybrid connection on live nodes; entries of dead nodes are deleted.
 * KEYS: listeners hash, nodes. ARGV: ttlMs. Returns a flat field/value list.
 */
export const LIST_SCRIPT = `${LIVE_NODES}
local live = live_nodes(KEYS[2], tonumber(ARGV[1]))
local entries = redis.call('HGETALL', KEYS[1])
local result = {}
for i = 1, #entries, 2 do
  if live[node_of(entries[i])] then
    table.insert(result, entries[i])
    table.insert(result, entries[i + 1])
  else
    redis.call('HDEL', KEYS[1], entries[i])
  end
end
return result
`;

/**
 * Adds a listener unless the hybrid connection already has the maximum on live nodes (entries of
 * dead nodes are deleted on the way). KEYS: listeners hash, nodes. ARGV: max, field, entry, ttlMs.
 * Returns 1 when added, 0 when full.
 */
export const REGISTER_SCRIPT = `${LIVE_NODES}
local live = live_nodes(KEYS[2], tonumber(ARGV[4]))
local entries = redis.call('HKEYS', KEYS[1])
local count = 0
for _, field in ipairs(entries) do
  if live[node_of(field)] then
    if field ~= ARGV[2] then count = count + 1 end
  else
    redis.call('HDEL', KEYS[1], field)
  end
end
if count >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
return 1
`;
