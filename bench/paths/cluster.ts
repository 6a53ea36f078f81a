/**
 * The cross-node path of a relay cluster: redis-server, two relay nodes, bridge -T (the listener)
 * on node A and bridge -L (the sender) on node B, so every connection is set up across nodes.
 */
import { freePort } from '../lib/net.js';
import type { Proc } from '../lib/procs.js';
import { startTcpBridgePair } from './bridge.js';
import { startRelay } from './relay.js';
import { missingCommands, startPathProcesses, type BenchContext, type Endpoint, type PathDef, type RunningPath, type Transport } from './types.js';

async function startRedis(ctx: BenchContext): Promise<{ proc: Proc; url: string }> {
  const port = await freePort();
  const host = ctx.sites.address('relay');
  const proc = ctx.sites.start('relay', 'redis-server', ctx.tools.redisServer!, ['--port', String(port), '--bind', host, '--save', '', '--appendonly', 'no', '--dir', ctx.dir]);
  await ctx.sites.waitForListening('relay', proc, { host, port }, 10_000);
  return { proc, url: `redis://${host}:${port}` };
}

export function bridgeClusterPath(transport: Transport): PathDef {
  return {
    id: `bridge-${transport}-cluster`,
    label: `bridge -L/-T (${transport === 'tls' ? 'TLS' : 'WS'}, cluster: listener on node A, sender on node B)`,
    kind: 'hybridge',
    transport,
    unavailable: (ctx) => missingCommands(ctx, 'server', 'bridge') ?? (ctx.tools.redisServer ? undefined : 'redis-server not installed (apt-get install redis-server)'),
    start: (ctx, target: Endpoint): Promise<RunningPath> =>
      startPathProcesses(async (procs) => {
        const redis = await startRedis(ctx);
        procs.push(redis.proc);
        const nodeA = await startRelay(ctx, transport, { redisUrl: redis.url, nodeId: 'a' });
        procs.push(nodeA.proc);
        const nodeB = await startRelay(ctx, transport, { redisUrl: redis.url, nodeId: 'b' });
        procs.push(nodeB.proc);
        const ends = await startTcpBridgePair(ctx, { listenerRelay: nodeA, senderRelay: nodeB, target }, procs);
        return {
          ...ends,
          watched: [
            { slot: 'relay', role: 'relay node A', pid: nodeA.proc.pid },
            { slot: 'relay', role: 'relay node B', pid: nodeB.proc.pid },
            { slot: 'relay', role: 'redis-server', pid: redis.proc.pid },
            ...ends.watched,
          ],
        };
      }),
  };
}
