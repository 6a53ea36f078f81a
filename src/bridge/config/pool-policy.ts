import { ValueError } from './config-error.js';
import type { BridgeConfig, RemoteBinding, TcpRemoteBinding, UdpRemoteBinding, UnixRemoteBinding } from './model.js';
import { DEFAULT_HEALTH_CHECK, mergeHealthCheck, type HealthCheckSettings, type PoolPolicy, type PoolSettings } from './pool-settings.js';

export type PoolBinding = TcpRemoteBinding | UdpRemoteBinding | UnixRemoteBinding;

/** The bindings of one relay that share a port name and a mode: one target pool. */
export interface PoolGroup<T extends PoolBinding = PoolBinding> {
  portName: string;
  mode: 'stream' | 'datagram';
  bindings: T[];
}

/** Groups one relay's bindings into pools, in definition order; HTTP bindings are not pooled here. */
export function groupPools(bindings: readonly RemoteBinding[]): PoolGroup[] {
  const groups = new Map<string, PoolGroup>();
  for (const binding of bindings) {
    if (binding.kind === 'http') continue;
    const mode = binding.kind === 'udp' ? 'datagram' : 'stream';
    const key = `${mode} ${binding.portName}`;
    const group = groups.get(key);
    if (group) group.bindings.push(binding);
    else groups.set(key, { portName: binding.portName, mode, bindings: [binding] });
  }
  return [...groups.values()];
}

const FIELD_NAMES: Record<keyof HealthCheckSettings, string> = {
  enabled: 'HealthCheck on/off',
  intervalMs: 'HealthCheck Interval',
  timeoutMs: 'HealthCheck Timeout',
  failuresBeforeDown: 'HealthCheck FailuresBeforeDown',
  successesBeforeUp: 'HealthCheck SuccessesBeforeUp',
};

/**
 * The policy of one pool: the defaults (command line, global keys), then whatever the pool's
 * bindings or their entries state. Bindings of one pool may repeat a setting but not contradict
 * each other (ValueError). Active health checks are on for stream pools of two or more targets
 * unless switched off, and never run for UDP (no connection to probe): UDP pools take turns per
 * flow and skip a target that fails to open.
 */
export function resolvePoolPolicy(group: PoolGroup, defaults: PoolSettings = {}): PoolPolicy {
  let balance = defaults.balance;
  let balanceWhere: string | undefined;
  let health: HealthCheckSettings = mergeHealthCheck(undefined, defaults.healthCheck) ?? {};
  const healthWhere: Partial<Record<keyof HealthCheckSettings, string>> = {};
  const port = `port "${group.portName}"`;
  for (const binding of group.bindings) {
    const settings = binding.pool;
    if (!settings) continue;
    if (settings.balance !== undefined) {
      if (balanceWhere !== undefined && balance !== settings.balance) {
        throw new ValueError(`${port}: LoadBalancing is ${balance} at ${balanceWhere} but ${settings.balance} at ${settings.where}; state it once per port`);
      }
      balance = settings.balance;
      balanceWhere = settings.where;
    }
    for (const key of Object.keys(settings.healthCheck ?? {}) as (keyof HealthCheckSettings)[]) {
      const value = settings.healthCheck![key];
      if (value === undefined) continue;
      const earlier = healthWhere[key];
      if (earlier !== undefined && health[key] !== value) {
        throw new ValueError(`${port}: ${FIELD_NAMES[key]} is ${String(health[key])} at ${earlier} but ${String(value)} at ${settings.where}; state it once per port`);
      }
      health = { ...health, [key]: value };
      healthWhere[key] = settings.where;
    }
  }
  if (group.mode === 'datagram' && health.enabled === true && healthWhere.enabled !== undefined) {
    throw new ValueError(`${port} forwards UDP (at ${healthWhere.enabled}): health checks apply to TCP and Unix-socket targets only`);
  }
  const enabled = group.mode === 'stream' && (health.enabled ?? group.bindings.length >= 2);
  return {
    balance: balance ?? 'round-robin',
    healthCheck: { ...DEFAULT_HEALTH_CHECK, ...withoutUndefined(health), enabled },
  };
}

/** The pool defaults a bridge configuration gives every relay. */
export function poolDefaults(config: Pick<BridgeConfig, 'loadBalancing' | 'healthCheck'>): PoolSettings {
  return { ...(config.loadBalancing && { balance: config.loadBalancing }), ...(config.healthCheck && { healthCheck: config.healthCheck }) };
}

/** One line per pool whose bindings contradict each other, for validateRunnable. */
export function poolProblems(config: BridgeConfig): string[] {
  const byRelay = new Map<string, RemoteBinding[]>();
  for (const forward of config.remoteForward) byRelay.set(forward.relayName, [...(byRelay.get(forward.relayName) ?? []), ...forward.bindings]);
  const problems: string[] = [];
  for (const [relay, bindings] of byRelay) {
    for (const group of groupPools(bindings)) {
      try {
        resolvePoolPolicy(group, poolDefaults(config));
      } catch (err) {
        if (err instanceof ValueError) problems.push(`relay ${relay}, ${err.message}.`);
        else throw err;
      }
    }
  }
  return problems;
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
