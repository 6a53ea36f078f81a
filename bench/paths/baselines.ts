/**
 * Baseline paths: the target reached directly, socat as a one-hop forwarder at the relay site (TCP
 * and UDP), and the bare Node chain floors (plain and TLS), one hop per site.
 */
import { join } from 'node:path';
import { freePort, freeUdpPort, HOST } from '../lib/net.js';
import type { Slot, WatchedProcess } from '../lib/sampler.js';
import type { Site } from '../lib/sites.js';
import { startPathProcesses, stopProcs, type PathDef, type Transport } from './types.js';

/** socat's read/write buffer (-b): large enough that socat is not slowed by small reads. */
export const SOCAT_BUFFER = 262144;

export const directPath: PathDef = {
  id: 'direct',
  label: 'direct (no forwarder)',
  kind: 'baseline',
  start: async (_ctx, target) => ({ endpoint: target, watched: [], procs: [], stop: async () => undefined }),
};

const noSocat = 'socat not installed (apt-get install socat openssh-server iperf3)';

export const socatTcpPath: PathDef = {
  id: 'socat',
  label: `socat one-hop (-b ${SOCAT_BUFFER})`,
  kind: 'baseline',
  unavailable: (ctx) => (ctx.tools.socat ? undefined : noSocat),
  start: async (ctx, target) => {
    const port = await freePort();
    const host = ctx.sites.address('relay');
    const proc = ctx.sites.start('relay', 'socat', ctx.tools.socat!, ['-b', String(SOCAT_BUFFER), `TCP4-LISTEN:${port},bind=${host},reuseaddr,fork,backlog=4096`, `TCP4:${target.host}:${target.port}`]);
    try {
      await ctx.sites.waitForListening('relay', proc, { host, port }, 10_000);
    } catch (err) {
      await proc.stop();
      throw err;
    }
    return { endpoint: { host, port }, watched: [{ slot: 'sender', role: 'socat (all forks)', pid: proc.pid, tree: true }], procs: [proc], stop: () => stopProcs([proc]) };
  },
};

export const socatUdpPath: PathDef = {
  id: 'socat',
  label: 'socat UDP one-hop',
  kind: 'baseline',
  unavailable: (ctx) => (ctx.tools.socat ? undefined : noSocat),
  start: async (ctx, target) => {
    const port = await freeUdpPort();
    const host = ctx.sites.address('relay');
    const proc = ctx.sites.start('relay', 'socat (UDP)', ctx.tools.socat!, ['-T', '60', '-b', '65536', `UDP4-LISTEN:${port},bind=${host},reuseaddr,fork`, `UDP4:${target.host}:${target.port}`]);
    return { endpoint: { host, port }, watched: [{ slot: 'sender', role: 'socat (all forks)', pid: proc.pid, tree: true }], procs: [proc], stop: () => stopProcs([proc]) };
  },
};

/** The floor chain's hops, nearest the target first: where a relayed connection has its listener end, relay and sender end. */
const CHAIN_HOPS: { slot: Slot; role: string; site: Site }[] = [
  { slot: 'listener', role: 'node hop 3', site: 'service' },
  { slot: 'relay', role: 'node hop 2', site: 'relay' },
  { slot: 'sender', role: 'node hop 1', site: 'client' },
];

/**
 * The floor: three bare Node forwarders in series (bench/tools/node-forwarder.ts), each only piping
 * bytes; with `tls`, TLS between the hops where a relayed connection has its two TLS legs. A
 * hybridge path runs the same three-process shape plus the protocol, so this shows how much of a
 * gap to socat or ssh comes from the shape (and from Node's TLS) on this machine.
 */
export function nodeChainPath(transport: Transport): PathDef {
  const tls = transport === 'tls';
  return {
    id: tls ? 'node-chain-tls' : 'node-chain',
    label: tls ? '3 bare Node forwarders in series, TLS between them (floor)' : '3 bare Node forwarders in series (floor)',
    kind: 'baseline',
    transport,
    start: (ctx, target) =>
      startPathProcesses(async (procs) => {
        const watched: WatchedProcess[] = [];
        let next = target;
        for (const [i, hop] of CHAIN_HOPS.entries()) {
          const port = await freePort();
          // Hop 1 listens on the client site's loopback, where the driver runs; the others where the previous hop reaches them.
          const host = hop.site === 'client' ? HOST : ctx.sites.address(hop.site);
          const args = [join(ctx.toolsDir, 'node-forwarder.js'), String(port), next.host, String(next.port), '--listen-host', host];
          // Hop 3 (nearest the target) dials in the clear; hop 1 (nearest the client) accepts in the clear.
          if (tls && i > 0) args.push('--connect-tls', ctx.tlsCertFile);
          if (tls && i < CHAIN_HOPS.length - 1) args.push('--accept-tls', ctx.tlsCertFile, ctx.tlsKeyFile);
          const proc = ctx.sites.start(hop.site, hop.role, process.execPath, args);
          procs.push(proc);
          await proc.waitFor(/"ready":true/, 15_000);
          watched.push({ slot: hop.slot, role: hop.role, pid: proc.pid });
          next = { host, port };
        }
        return { endpoint: next, watched };
      }),
  };
}
