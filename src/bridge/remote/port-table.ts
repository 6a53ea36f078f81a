import { resolvePortName } from '../../protocol/port-announcement.js';
import { silentLogger, type Logger } from '../../util/logger.js';
import { groupPools, resolvePoolPolicy, type PoolSettings, type RemoteBinding, type TcpRemoteBinding, type UdpRemoteBinding, type UnixRemoteBinding } from '../config/index.js';
import type { OutboundOptions } from '../outbound-address.js';
import { probeStreamTarget } from './stream-target.js';
import { TargetPool } from './target-pool.js';

export type StreamBinding = TcpRemoteBinding | UnixRemoteBinding;

/** The pools behind one port name: one for stream connections, one for UDP flows. */
export interface PortEntry {
  name: string;
  stream?: TargetPool<StreamBinding>;
  datagram?: TargetPool<UdpRemoteBinding>;
}

export interface PortTableOptions {
  relayName: string;
  log: Logger;
  /** How health checks connect (-b source address, address family). */
  outbound: OutboundOptions;
  /** LoadBalancing / HealthCheck for pools whose bindings do not state their own. */
  defaults?: PoolSettings;
}

/**
 * The targets one relay serves, by logical port name (reference/azbridge.md §1.6): exact,
 * case-sensitive names; when the relay has exactly one port name and the requested name is a number,
 * that port serves it (azbridge PR #55: `-L 13389:relay` with `-T relay:3389`). HTTP bindings (-H) take
 * no stream connections and do not count. Several bindings that share a name form a target pool
 * (target-pool.ts): balanced, health-checked, failing over to the next target.
 */
export class PortTable {
  private readonly byName = new Map<string, PortEntry>();

  /** Throws a config ValueError when the bindings of one pool contradict each other. */
  constructor(bindings: readonly RemoteBinding[], options: PortTableOptions = { relayName: '', log: silentLogger(), outbound: { connectTimeoutMs: 30_000 } }) {
    const pool = { relayName: options.relayName, log: options.log };
    for (const group of groupPools(bindings)) {
      const entry = this.byName.get(group.portName) ?? { name: group.portName };
      const policy = resolvePoolPolicy(group, options.defaults);
      if (group.mode === 'datagram') {
        entry.datagram = new TargetPool(group.portName, group.bindings as UdpRemoteBinding[], policy, pool);
      } else {
        const probe = (target: StreamBinding, timeoutMs: number) => probeStreamTarget(target, options.outbound, timeoutMs);
        entry.stream = new TargetPool(group.portName, group.bindings as StreamBinding[], policy, { ...pool, probe });
      }
      this.byName.set(group.portName, entry);
    }
  }

  /** Port names this relay serves, in definition order. */
  get names(): string[] {
    return [...this.byName.keys()];
  }

  get isEmpty(): boolean {
    return this.byName.size === 0;
  }

  /** The pools for `portName`, or undefined when no name matches. */
  lookup(portName: string): PortEntry | undefined {
    const name = resolvePortName(this.names, portName);
    return name === undefined ? undefined : this.byName.get(name);
  }

  /** Every pool with its port name (metrics read the members' health). */
  *entries(): Iterable<{ port: string; pool: TargetPool<StreamBinding> | TargetPool<UdpRemoteBinding> }> {
    for (const entry of this.byName.values()) {
      if (entry.stream) yield { port: entry.name, pool: entry.stream };
      if (entry.datagram) yield { port: entry.name, pool: entry.datagram };
    }
  }

  /** Starts the health checks. */
  start(): void {
    for (const pool of this.pools()) pool.start();
  }

  /** Stops the health checks. */
  close(): void {
    for (const pool of this.pools()) pool.close();
  }

  private *pools(): Iterable<TargetPool<StreamBinding> | TargetPool<UdpRemoteBinding>> {
    for (const entry of this.byName.values()) {
      if (entry.stream) yield entry.stream;
      if (entry.datagram) yield entry.datagram;
    }
  }
}
