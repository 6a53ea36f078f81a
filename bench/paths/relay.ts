/** Starts a `hybridge server` process at the relay site on a free port (plain WebSocket or TLS). */
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { createSasToken } from '../../src/protocol/sas-token.js';
import { launchFlags } from '../lib/launch-flags.js';
import { freePort } from '../lib/net.js';
import type { Proc } from '../lib/procs.js';
import { startPathProcesses, type BenchContext, type PathParts, type RunningPath, type Transport } from './types.js';

export interface RelayProcess {
  proc: Proc;
  port: number;
  transport: Transport;
  /** ws://HOST:P or wss://HOST:P (HOST: the relay site's address) */
  wsBase: string;
  /** http://HOST:P or https://HOST:P */
  httpBase: string;
  connectionString: string;
  /** Environment every client of this relay needs (the self-signed CA for TLS). */
  clientEnv: Record<string, string>;
  /** A send token for the hybrid connection (HTTP requests through the relay). */
  sendToken(): string;
}

export function hybridgeEnv(ctx: BenchContext, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: ctx.home, ...extra };
}

/** node's arguments for a hybridge command (with the flags of the CLI's #! line); `role` names its CPU profile (<role>.cpuprofile). */
export function nodeArgs(ctx: BenchContext, role: string, args: string[]): string[] {
  const profile = ctx.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', ctx.cpuProfDir, '--cpu-prof-name', `${role}.cpuprofile`] : [];
  return [...launchFlags(ctx.cli), ...profile, ctx.cli, ...args];
}

export interface ClusterNodeOptions {
  /** redis://127.0.0.1:P */
  redisUrl: string;
  nodeId: string;
}

/** A relay process; with `cluster`, a cluster node. The root key comes from HYBRIDGE_ROOT_KEY, so none prints a connection string. */
export async function startRelay(ctx: BenchContext, transport: Transport, cluster?: ClusterNodeOptions, extraArgs: string[] = []): Promise<RelayProcess> {
  const tls = transport === 'tls';
  const host = ctx.sites.address('relay');
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    // s4 holds 5,000 relayed connections and their listener: one more than the namespace quota's default (Azure's).
    const args = ['server', '--host', host, '--port', String(port), '--hyco', ctx.hyco, '--log-level', 'warn', '--drain-timeout', '1s', '--max-connections', '10000', ...extraArgs];
    if (cluster) args.push('--redis', cluster.redisUrl, '--node-id', cluster.nodeId, '--public-url', `${tls ? 'wss' : 'ws'}://${host}:${port}`);
    else args.push('--data', mkdtempSync(join(ctx.dir, 'relay-')));
    if (tls) args.push('--tls-cert', ctx.tlsCertFile, '--tls-key', ctx.tlsKeyFile);
    const role = cluster ? `relay-${cluster.nodeId}` : 'relay';
    const proc = ctx.sites.start('relay', `${role} (${transport})`, process.execPath, nodeArgs(ctx, role, args), { env: hybridgeEnv(ctx, { HYBRIDGE_ROOT_KEY: ctx.relayKey }) });
    try {
      // A fresh namespace is announced once the relay serves; a cluster node that finds it in Redis says nothing.
      if (cluster) await ctx.sites.waitForListening('relay', proc, { host, port }, 15_000);
      else await proc.waitFor(/Created a new namespace/, 15_000);
    } catch (err) {
      await proc.stop();
      if (attempt < 3 && /already in use/.test(proc.output())) continue;
      throw err;
    }
    const scheme = tls ? 'sb' : 'ws';
    return {
      proc,
      port,
      transport,
      wsBase: `${tls ? 'wss' : 'ws'}://${host}:${port}`,
      httpBase: `${tls ? 'https' : 'http'}://${host}:${port}`,
      connectionString: `Endpoint=${scheme}://${host}:${port}/;SharedAccessKeyName=${ctx.relayKeyName};SharedAccessKey=${ctx.relayKey}`,
      clientEnv: tls ? { NODE_EXTRA_CA_CERTS: ctx.tlsCertFile } : {},
      sendToken: () => createSasToken(`http://${host}:${port}/${ctx.hyco}`, ctx.relayKeyName, ctx.relayKey, Math.floor(Date.now() / 1000) + 3600),
    };
  }
}

/** Starts a fresh relay, then the path's ends through `build` (see startPathProcesses). */
export function assemble(ctx: BenchContext, transport: Transport, build: (relay: RelayProcess, procs: Proc[]) => Promise<PathParts>): Promise<RunningPath> {
  return startPathProcesses(async (procs) => {
    const relay = await startRelay(ctx, transport);
    procs.push(relay.proc);
    const built = await build(relay, procs);
    return { ...built, watched: [{ slot: 'relay', role: 'hybridge server', pid: relay.proc.pid }, ...built.watched] };
  });
}
