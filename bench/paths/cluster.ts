/**
 * The cross-node path of a relay cluster: redis-server, two relay nodes, bridge -T (the listener)
 * on node A and bridge -L (the sender) on node B, so every connection is set up across nodes.
 */
import { freePort, HOST, waitForPort } from '../lib/net.js';
import { startProcess, type Proc } from '../lib/procs.js';
import { startBridge } from './bridge.js';
import { startRelay } from './relay.js';
import { missingCommands, stopProcs, type BenchContext, type Endpoint, type PathDef, type RunningPath, type Transport } from './types.js';

async function startRedis(ctx: BenchContext): Promise<{ proc: Proc; url: string }> {
  const port = await freePort();
  const proc = startProcess('redis-server', ctx.tools.redisServer!, ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--dir', ctx.dir]);
  await Promise.race([waitForPort(port, 10_000), proc.exited.then(() => Promise.reject(new Error(`redis-server exited: ${proc.output()}`)))]);
  return { proc, url: `redis://${HOST}:${port}` };
}

export function bridgeClusterPath(transport: Transport): PathDef {
  return {
    id: `bridge-${transport}-cluster`,
    label: `bridge -L/-T (${transport === 'tls' ? 'TLS' : 'WS'}, cluster: listener on node A, sender on node B)`,
    kind: 'hybridge',
    transport,
    unavailable: (ctx) => missingCommands(ctx, 'server', 'bridge') ?? (ctx.tools.redisServer ? undefined : 'redis-server not installed (apt-get install redis-server)'),
    start: async (ctx, target: Endpoint): Promise<RunningPath> => {
      const procs: Proc[] = [];
      try {
        const redis = await startRedis(ctx);
        procs.push(redis.proc);
        const nodeA = await startRelay(ctx, transport, { redisUrl: redis.url, nodeId: 'a' });
        procs.push(nodeA.proc);
        const nodeB = await startRelay(ctx, transport, { redisUrl: redis.url, nodeId: 'b' });
        procs.push(nodeB.proc);
        const remote = startBridge(ctx, nodeA, 'bridge -T', ['-T', `${ctx.hyco}:${target.host}:${target.port}`]);
        procs.push(remote);
        const port = await freePort();
        const local = startBridge(ctx, nodeB, 'bridge -L', ['-L', `${HOST}:${port}:${ctx.hyco}`]);
        procs.push(local);
        await Promise.race([waitForPort(port, 15_000), local.exited.then(() => Promise.reject(new Error(`bridge -L exited: ${local.output()}`)))]);
        return {
          endpoint: { host: HOST, port },
          watched: [
            { slot: 'relay', role: 'relay node A', pid: nodeA.proc.pid },
            { slot: 'relay', role: 'relay node B', pid: nodeB.proc.pid },
            { slot: 'relay', role: 'redis-server', pid: redis.proc.pid },
            { slot: 'sender', role: 'bridge -L', pid: local.pid },
            { slot: 'listener', role: 'bridge -T', pid: remote.pid },
          ],
          procs,
          stop: () => stopProcs(procs),
        };
      } catch (err) {
        await stopProcs(procs);
        throw err;
      }
    },
  };
}
