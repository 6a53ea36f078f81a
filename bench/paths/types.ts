/** What a forwarding path is to a scenario: something started in front of a target, then measured. */
import type { Proc } from '../lib/procs.js';
import type { Sites } from '../lib/sites.js';
import type { WatchedProcess } from '../lib/sampler.js';

export interface Endpoint {
  host: string;
  port: number;
}

/** Shared for the whole run: temp dir, certificates, binaries, relay credentials. */
export interface BenchContext {
  /** The run's temp dir (removed at the end). */
  dir: string;
  /** An empty HOME for hybridge processes (no user configuration is read). */
  home: string;
  tlsCertFile: string;
  tlsKeyFile: string;
  /** dist/src/cli/main.js */
  cli: string;
  /** dist/bench/tools */
  toolsDir: string;
  relayKeyName: string;
  relayKey: string;
  hyco: string;
  /** Absolute paths of the baseline tools that were found. */
  tools: { socat?: string; ssh?: string; sshd?: string; sshKeygen?: string; redisServer?: string };
  /** The commands the built hybridge CLI offers (server, bridge, relay-listener, relay-sender, ...). */
  commands: Set<string>;
  /** When set (per scenario and path), hybridge processes write CPU profiles into this directory. */
  cpuProfDir?: string;
  /** Where each process of a path runs (loopback, or the nodes of a network-fault lab). */
  sites: Sites;
}

export type PathKind = 'baseline' | 'hybridge' | 'library';
export type Transport = 'ws' | 'tls';

export interface RunningPath {
  /** Where the driver connects (TCP or UDP). */
  endpoint: Endpoint;
  /** For HTTP paths: the base URL and the headers every request carries. */
  http?: { baseUrl: string; headers: Record<string, string> };
  /** Environment for the driver (e.g. NODE_EXTRA_CA_CERTS for an HTTPS relay). */
  driverEnv?: Record<string, string>;
  /** Processes whose memory is reported (relay and each end). */
  watched: WatchedProcess[];
  /** Paths with several set-ups measured side by side (metrics off and on): each one's endpoint. */
  variants?: Record<string, Endpoint>;
  /** The processes of each variant (relay and ends), whose CPU time a scenario compares. */
  variantPids?: Record<string, number[]>;
  procs: Proc[];
  stop(): Promise<void>;
}

export interface PathDef {
  id: string;
  label: string;
  kind: PathKind;
  transport?: Transport;
  prewarm?: number;
  /** Why the path cannot run here (a missing tool), or undefined. */
  unavailable?(ctx: BenchContext): string | undefined;
  start(ctx: BenchContext, target: Endpoint): Promise<RunningPath>;
}

/** A process of the path that exited while it should be running, as an error message. */
export function exitedProcess(path: RunningPath): string | undefined {
  const dead = path.procs.find((p) => p.hasExited());
  return dead ? `${dead.name} exited unexpectedly; its last output:\n${dead.output().trimEnd().split('\n').slice(-8).join('\n')}` : undefined;
}

/** The parts of a running path its start-up builds; startPathProcesses() adds the processes and stop(). */
export type PathParts = Omit<RunningPath, 'procs' | 'stop'>;

/**
 * Runs a path's start-up, which pushes every process it starts onto `procs` (the relay, or what
 * plays its part, first); stops whatever started when a step fails.
 */
export async function startPathProcesses(build: (procs: Proc[]) => Promise<PathParts>): Promise<RunningPath> {
  const procs: Proc[] = [];
  try {
    const parts = await build(procs);
    return { ...parts, procs, stop: () => stopProcs(procs) };
  } catch (err) {
    await stopProcs(procs);
    throw err;
  }
}

/** Stops the ends (in parallel), then the relay (the first process), so ends do not see it go first. */
export async function stopProcs(procs: readonly Proc[]): Promise<void> {
  const [first, ...rest] = procs;
  await Promise.all(rest.map((p) => p.stop()));
  await first?.stop();
}

/** Why a path needing these hybridge commands cannot run, or undefined. */
export function missingCommands(ctx: BenchContext, ...names: string[]): string | undefined {
  const missing = names.filter((n) => !ctx.commands.has(n));
  return missing.length ? `hybridge ${missing.join(', ')} not available in this build` : undefined;
}
