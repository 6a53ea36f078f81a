/**
 * `hybridge bridge` paths: -L/-T for TCP and UDP, -H for HTTP, through a fresh relay each time;
 * -L at the client site, -T/-H at the service site.
 */
import { freePort, freeUdpPort, HOST } from '../lib/net.js';
import type { Proc } from '../lib/procs.js';
import type { Site } from '../lib/sites.js';
import { awaitMuxSessions, senderLogArgs, type MuxReadiness } from './mux-ready.js';
import { preconnectArgs, preconnectLabel, preconnectSuffix } from './preconnect.js';
import { assemble, hybridgeEnv, nodeArgs, type RelayProcess } from './relay.js';
import { missingCommands, type BenchContext, type Endpoint, type PathDef, type PathParts, type Transport } from './types.js';

function startBridge(ctx: BenchContext, site: Site, relay: RelayProcess, name: string, args: string[], logArgs = ['-q']): Proc {
  return ctx.sites.start(site, name, process.execPath, nodeArgs(ctx, name.replace(/[^A-Za-z]+/g, '-').replace(/-$/, ''), ['bridge', '-x', relay.connectionString, ...logArgs, '--drain-timeout', '1s', ...args]), {
    env: hybridgeEnv(ctx, relay.clientEnv),
  });
}

export function bridgeTcpPath(transport: Transport, prewarm = 0, mux = 0, preconnect?: number, readiness?: MuxReadiness): PathDef {
  return {
    id: `bridge-${transport}${prewarm ? '-prewarm' : ''}${mux ? '-mux' : ''}${preconnectSuffix(preconnect)}`,
    label: `bridge -L/-T (${transport === 'tls' ? 'TLS' : 'WS'}${prewarm ? `, --prewarm ${prewarm}` : ''}${mux ? `, --mux ${mux}` : ''}${preconnectLabel(preconnect)})`,
    kind: 'hybridge',
    unavailable: (ctx) => missingCommands(ctx, 'server', 'bridge'),
    transport,
    prewarm,
    start: (ctx, target: Endpoint) => assemble(ctx, transport, (relay, procs) => startTcpBridgePair(ctx, { listenerRelay: relay, senderRelay: relay, target, prewarm, mux, readiness, args: preconnectArgs(preconnect) }, procs)),
  };
}

export interface TcpBridgePair {
  /** Where bridge -T (the listener end) connects. */
  listenerRelay: RelayProcess;
  /** Where bridge -L (the sender end) connects. */
  senderRelay: RelayProcess;
  target: Endpoint;
  prewarm?: number;
  /** Multiplexed sessions of bridge -L (--mux). */
  mux?: number;
  readiness?: MuxReadiness;
  /** More arguments for each end (e.g. --metrics-addr). */
  args?: { sender?: string[]; listener?: string[] };
}

/** bridge -T to the target and bridge -L on a free loopback port at the client site; both are pushed onto `procs`. */
export async function startTcpBridgePair(ctx: BenchContext, pair: TcpBridgePair, procs: Proc[]): Promise<PathParts> {
  const { listenerRelay, senderRelay, target, prewarm, mux = 0, readiness } = pair;
  const remote = startBridge(ctx, 'service', listenerRelay, 'bridge -T', ['-T', `${ctx.hyco}:${target.host}:${target.port}`, ...(pair.args?.listener ?? [])]);
  procs.push(remote);
  const port = await freePort();
  const local = startBridge(ctx, 'client', senderRelay, 'bridge -L', ['-L', `${HOST}:${port}:${ctx.hyco}`, ...(prewarm ? ['--prewarm', String(prewarm)] : []), ...(mux ? ['--mux', String(mux)] : []), ...(pair.args?.sender ?? [])], senderLogArgs(mux, readiness, ['-q']));
  procs.push(local);
  await ctx.sites.waitForListening('client', local, { host: HOST, port }, 15_000);
  await awaitMuxSessions(local, mux, readiness);
  return {
    endpoint: { host: HOST, port },
    watched: bridgeEnds(local, remote),
  };
}

/** The two bridge processes whose CPU and memory a scenario reports. */
function bridgeEnds(local: Proc, remote: Proc): PathParts['watched'] {
  return [
    { slot: 'sender', role: 'bridge -L', pid: local.pid },
    { slot: 'listener', role: 'bridge -T', pid: remote.pid },
  ];
}

/** bridge -L ...U / -T ...U; with `mux`, every flow is a stream of one of the sender's sessions, measured once they are open. */
export function bridgeUdpPath(transport: Transport, mux = 0): PathDef {
  const readiness: MuxReadiness = { awaitSessions: true };
  return {
    id: `bridge-${transport}${mux ? '-mux' : ''}`,
    label: `bridge -L/-T UDP (${transport === 'tls' ? 'TLS' : 'WS'}${mux ? `, --mux ${mux}` : ''})`,
    kind: 'hybridge',
    unavailable: (ctx) => missingCommands(ctx, 'server', 'bridge'),
    transport,
    start: (ctx, target) =>
      assemble(ctx, transport, async (relay, procs) => {
        const remote = startBridge(ctx, 'service', relay, 'bridge -T (UDP)', ['-T', `${ctx.hyco}:udp/${target.host}:${target.port}U`]);
        procs.push(remote);
        const port = await freeUdpPort();
        const local = startBridge(ctx, 'client', relay, 'bridge -L (UDP)', ['-L', `${HOST}:${port}U/udp:${ctx.hyco}`, ...(mux ? ['--mux', String(mux)] : [])], senderLogArgs(mux, readiness, ['-q']));
        procs.push(local);
        await awaitMuxSessions(local, mux, readiness);
        return {
          endpoint: { host: HOST, port },
          watched: bridgeEnds(local, remote),
        };
      }),
  };
}

export function bridgeHttpPath(transport: Transport): PathDef {
  return {
    id: `bridge-${transport}`,
    label: `bridge -H (${transport === 'tls' ? 'HTTPS' : 'HTTP'} relay)`,
    kind: 'hybridge',
    unavailable: (ctx) => missingCommands(ctx, 'server', 'bridge'),
    transport,
    start: (ctx, target) =>
      assemble(ctx, transport, async (relay, procs) => {
        const remote = startBridge(ctx, 'service', relay, 'bridge -H', ['-H', `${ctx.hyco}:http/${target.host}:${target.port}`]);
        procs.push(remote);
        return {
          endpoint: { host: ctx.sites.address('relay'), port: relay.port },
          http: { baseUrl: `${relay.httpBase}/${ctx.hyco}`, headers: { ServiceBusAuthorization: relay.sendToken() } },
          driverEnv: relay.clientEnv,
          watched: [{ slot: 'listener', role: 'bridge -H', pid: remote.pid }],
        };
      }),
  };
}
