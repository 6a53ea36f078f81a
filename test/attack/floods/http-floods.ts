/**
 * Pre-authentication CPU (issue 13): requests that cost the relay work before it knows who is
 * asking. Long paths (`/a/a/a/...`, 8 and 15 KB: finding the hybrid connection tried every
 * prefix of every segment) and management calls with a forged token whose rule name every hybrid
 * connection has (each was checked against every hybrid connection's rules).
 */
import { Agent, request } from 'node:http';
import { param, pool, sources, type Flood, type FloodContext } from './flood.js';

function get(ctx: FloodContext, agent: Agent, path: string, headers: Record<string, string> = {}): Promise<void> {
  const port = param<number>(ctx, 'port');
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent, headers, timeout: 10_000 }, (res) => {
      ctx.count(`status:${res.statusCode}`);
      res.resume();
      res.on('end', resolve);
      res.on('error', resolve);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', (err: NodeJS.ErrnoException) => {
      ctx.count(`error:${err.code ?? err.message}`);
      resolve();
    });
    req.end();
  });
}

/** `concurrency` requests at a time, spread over `clients` source addresses (keep-alive per address). */
function spread(ctx: FloodContext, make: (i: number) => { path: string; headers?: Record<string, string> }): () => Promise<void> {
  const addresses = sources(param<number>(ctx, 'firstSource', 10), param<number>(ctx, 'clients', 8));
  const agents = addresses.map((localAddress) => new Agent({ keepAlive: true, localAddress, maxSockets: 16 }));
  const concurrency = param<number>(ctx, 'concurrency', 16);
  return async () => {
    await pool(ctx, concurrency, async (i) => {
      const { path, headers } = make(i);
      await get(ctx, agents[i % agents.length]!, path, headers);
    });
    for (const agent of agents) agent.destroy();
  };
}

export const longPaths: Flood = async (ctx) => {
  const lengths = param<number[]>(ctx, 'lengths', [15_000, 8_000]);
  const paths = lengths.map((n) => `/${'a/'.repeat(Math.floor(n / 2))}`.slice(0, n));
  return spread(ctx, (i) => ({ path: paths[i % paths.length]! }));
};

export const managementAuth: Flood = async (ctx) => {
  const token = param<string>(ctx, 'token');
  const entity = param<string>(ctx, 'entity');
  return spread(ctx, () => ({ path: `/$hybridge/v1/hybridconnections/${entity}`, headers: { ServiceBusAuthorization: token } }));
};
