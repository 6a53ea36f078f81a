/**
 * Where a path's processes run. Every path has the same three sites: the client's (the driver and
 * the sender end), the relay's (the relay, or what stands in its place: socat, sshd, the middle
 * hop of the Node floor) and the service's (the target and the listener end). On loopback all
 * three are this machine's 127.0.0.1; in the WAN scenarios each is a lab node (lab-sites.ts) with
 * delayed, lossy links between them. Paths start every process through their context's Sites, so
 * the same path definition runs in both.
 */
import type { Endpoint, RunningPath } from '../paths/types.js';
import { waitForPort } from './net.js';
import { probePath, type TargetMode } from './probe.js';
import { startProcess, type Proc, type StartOptions } from './procs.js';

export type Site = 'client' | 'relay' | 'service';

export interface Sites {
  /** 'loopback', or the lab's id. */
  readonly name: string;
  /** The address a process at `site` listens on for processes at the other sites. */
  address(site: Site): string;
  /** Starts a tracked process at `site` (procs.ts: stopped with the path, on Ctrl-C and at exit). */
  start(site: Site, name: string, command: string, args: string[], options?: StartOptions): Proc;
  /** Resolves once `endpoint` accepts TCP connections at `site`; rejects when `proc` exits first or after `timeoutMs`. */
  waitForListening(site: Site, proc: Proc, endpoint: Endpoint, timeoutMs: number): Promise<void>;
  /** Retries an end-to-end exchange from the client site until the path carries it (probe.ts). */
  probe(path: RunningPath, mode: TargetMode, deadlineMs: number, caFile?: string): Promise<void>;
}

export const loopbackSites: Sites = {
  name: 'loopback',
  address: () => '127.0.0.1',
  start: (_site, name, command, args, options) => startProcess(name, command, args, options),
  waitForListening: (_site, proc, endpoint, timeoutMs) =>
    Promise.race([waitForPort(endpoint.port, timeoutMs, endpoint.host), proc.exited.then(() => Promise.reject(new Error(`${proc.name} exited: ${proc.output()}`)))]),
  probe: probePath,
};
