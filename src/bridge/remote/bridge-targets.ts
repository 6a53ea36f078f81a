/**
 * `hybridge relay-listener --bridge-target`: azbridge-style ports served beside aztunnel tunnels on
 * one hybrid connection. The expressions are -R's target part (`port:host:hostport`, pools with
 * several targets), --balance and --health-check the defaults of their pools.
 */
import type { PooledHandler } from '../../forwarding/listener-end.js';
import { SettingsError } from '../../forwarding/settings-error.js';
import type { Logger } from '../../util/logger.js';
import { BridgeConfigError, checkBalanceMode, parseHealthCheckSpec, parseRemoteForwardOption, type PoolSettings, type RemoteBinding } from '../config/index.js';
import { ValueError } from '../config/config-error.js';
import { createAzbridgeHandler } from './serve-azbridge.js';

export interface BridgeTargetSettings {
  bridgeTargets: readonly string[];
  balance?: string;
  healthCheck?: string;
}

export interface BridgeTargetContext {
  hyco: string;
  connectTimeoutMs: number;
  log: Logger;
}

/**
 * The handler for the --bridge-target ports, or undefined when there are none (--balance and
 * --health-check are checked either way); throws SettingsError naming every problem.
 */
export function bridgeTargetsHandler(settings: BridgeTargetSettings, ctx: BridgeTargetContext): PooledHandler | undefined {
  const pools = poolSettings(settings);
  if (settings.bridgeTargets.length === 0) return undefined;
  const bindings: RemoteBinding[] = [];
  const problems: string[] = [];
  for (const expression of settings.bridgeTargets) {
    try {
      bindings.push(...parseRemoteForwardOption(`${ctx.hyco}:${expression}`).bindings);
    } catch (err) {
      if (!(err instanceof BridgeConfigError)) throw err;
      problems.push(`--bridge-target ${expression}: ${err.message}`);
    }
  }
  if (problems.length > 0) throw new SettingsError(problems);
  try {
    return createAzbridgeHandler(bindings, { relayName: ctx.hyco, log: ctx.log, connectTimeoutMs: ctx.connectTimeoutMs, poolDefaults: pools });
  } catch (err) {
    if (err instanceof ValueError) throw new SettingsError([`--bridge-target: ${err.message}`]);
    throw err;
  }
}

/** --balance and --health-check: the target-pool defaults of the --bridge-target ports. */
function poolSettings(settings: BridgeTargetSettings): PoolSettings {
  const pools: PoolSettings = {};
  const problems: string[] = [];
  try {
    if (settings.balance !== undefined) pools.balance = checkBalanceMode(settings.balance);
  } catch (err) {
    problems.push(`--balance: ${(err as Error).message}`);
  }
  try {
    if (settings.healthCheck !== undefined) pools.healthCheck = parseHealthCheckSpec(settings.healthCheck);
  } catch (err) {
    problems.push(`--health-check "${settings.healthCheck}": ${(err as Error).message}`);
  }
  if (problems.length > 0) throw new SettingsError(problems);
  return pools;
}
