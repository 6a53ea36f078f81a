import { MetricsAddressError, parseMetricsAddress, type MetricsAddress } from './metrics-server.js';

export interface MetricsFlags {
  metricsAddr?: string;
  metricsMaxTargets?: string;
}

export interface MetricsSettings {
  address: MetricsAddress;
  maxTargets: number;
}

/** aztunnel reads the metrics address from this variable when the flag is not given. */
export const METRICS_ADDR_ENV = 'AZTUNNEL_METRICS_ADDR';

/**
 * `--metrics-addr` (or AZTUNNEL_METRICS_ADDR when `env` is given) and `--metrics-max-targets`, checked;
 * undefined when metrics are off. Throws MetricsAddressError (a usage error) for a bad value.
 */
export function metricsSettings(flags: MetricsFlags, env?: NodeJS.ProcessEnv): MetricsSettings | undefined {
  const text = flags.metricsAddr ?? env?.[METRICS_ADDR_ENV];
  const maxTargets = Number(flags.metricsMaxTargets ?? '500');
  if (!Number.isInteger(maxTargets) || maxTargets < 0 || maxTargets > 100_000) throw new MetricsAddressError(`--metrics-max-targets must be a whole number from 0 (no cap) to 100000, not "${flags.metricsMaxTargets}"`);
  if (text === undefined || text === '') return undefined;
  return { address: parseMetricsAddress(text), maxTargets };
}

export { MetricsAddressError };
