import { parseDuration } from '../../util/duration.js';
import { ValueError } from './config-error.js';
import { parseBooleanText, parseIntegerText } from './values.js';

/**
 * Target pools: several remote bindings that share a port name on one relay. How a pool picks a
 * target for a new connection, and how it tells live targets from dead ones.
 */

export type BalanceMode = 'round-robin' | 'least-connections';
export const BALANCE_MODES: readonly BalanceMode[] = ['round-robin', 'least-connections'];

/** Health-check settings as a layer, an entry or a binding states them: every field optional. */
export interface HealthCheckSettings {
  /** Active checks on or off; unset means "on for ports with two or more TCP/Unix targets". */
  enabled?: boolean;
  intervalMs?: number;
  timeoutMs?: number;
  failuresBeforeDown?: number;
  successesBeforeUp?: number;
}

/** Pool settings as one source states them. */
export interface PoolSettings {
  balance?: BalanceMode;
  healthCheck?: HealthCheckSettings;
}

/** Pool settings written on a RemoteForward entry or binding, with where they were written. */
export interface LocatedPoolSettings extends PoolSettings {
  where: string;
}

/** Everything a running pool needs, defaults filled in. */
export interface PoolPolicy {
  balance: BalanceMode;
  healthCheck: Required<HealthCheckSettings>;
}

/** frp's health-check defaults (10 s, 3 s, 3 failures); two passes bring a target back. */
export const DEFAULT_HEALTH_CHECK: Readonly<Required<Omit<HealthCheckSettings, 'enabled'>>> = {
  intervalMs: 10_000,
  timeoutMs: 3_000,
  failuresBeforeDown: 3,
  successesBeforeUp: 2,
};

/** Accepted ranges, for the checks and the messages. */
const LIMITS = {
  intervalMs: { min: 100, max: 3_600_000, name: 'Interval' },
  timeoutMs: { min: 50, max: 600_000, name: 'Timeout' },
  failuresBeforeDown: { min: 1, max: 100, name: 'FailuresBeforeDown' },
  successesBeforeUp: { min: 1, max: 100, name: 'SuccessesBeforeUp' },
} as const;

/** `round-robin` / `least-connections`, in any case, with `-`, `_` or nothing between the words. */
export function checkBalanceMode(text: string): BalanceMode {
  const word = text.trim().toLowerCase().replace(/[-_ ]/g, '');
  if (word === 'roundrobin') return 'round-robin';
  if (word === 'leastconnections' || word === 'leastconn') return 'least-connections';
  throw new ValueError(`LoadBalancing "${text}" is not one of ${BALANCE_MODES.join(', ')}`);
}

/** A duration field: `5s`, `500ms`, `1m`, or a bare number of seconds. */
export function checkHealthDuration(text: string, field: 'intervalMs' | 'timeoutMs'): number {
  const { min, max, name } = LIMITS[field];
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch {
    throw new ValueError(`${name} "${text}" is not a duration (examples: 500ms, 5s, 1m, or a number of seconds)`);
  }
  if (ms < min || ms > max) throw new ValueError(`${name} ${text} is out of range ${formatMs(min)}..${formatMs(max)}`);
  return ms;
}

export function checkHealthCount(value: number, field: 'failuresBeforeDown' | 'successesBeforeUp'): number {
  const { min, max, name } = LIMITS[field];
  if (!Number.isInteger(value) || value < min || value > max) throw new ValueError(`${name} ${value} is out of range ${min}..${max}`);
  return value;
}

const SPEC_KEYS: Record<string, keyof HealthCheckSettings> = {
  interval: 'intervalMs',
  timeout: 'timeoutMs',
  fail: 'failuresBeforeDown',
  failures: 'failuresBeforeDown',
  failuresbeforedown: 'failuresBeforeDown',
  pass: 'successesBeforeUp',
  successes: 'successesBeforeUp',
  successesbeforeup: 'successesBeforeUp',
};

/**
 * The compact form used by `--health-check` and by a scalar `HealthCheck:` value: `off`, `on`, or
 * comma-separated `interval=5s,timeout=1s,fail=2,pass=1` (with `on`/`off` among them if wanted).
 * Parameters alone do not switch checks on for single-target ports; `on` does.
 */
export function parseHealthCheckSpec(text: string): HealthCheckSettings {
  const spec = text.trim();
  if (!spec) throw new ValueError('the health-check setting is empty; expected off, on, or interval=10s,timeout=3s,fail=3,pass=2');
  const flag = parseBooleanText(spec);
  if (flag !== undefined) return { enabled: flag };
  const out: HealthCheckSettings = {};
  for (const item of spec.split(',').map((s) => s.trim())) {
    if (!item) throw new ValueError(`"${spec}" has an empty item; expected key=value items separated by ','`);
    const itemFlag = parseBooleanText(item);
    if (itemFlag !== undefined) {
      out.enabled = itemFlag;
      continue;
    }
    const eq = item.indexOf('=');
    const key = SPEC_KEYS[(eq < 0 ? item : item.slice(0, eq)).trim().toLowerCase().replace(/[-_]/g, '')];
    if (eq < 0 || !key) throw new ValueError(`"${item}" is not a health-check setting; use on, off, interval=DURATION, timeout=DURATION, fail=N or pass=N`);
    if (out[key] !== undefined) throw new ValueError(`"${item.slice(0, eq)}" is given twice`);
    const value = item.slice(eq + 1).trim();
    if (key === 'intervalMs' || key === 'timeoutMs') out[key] = checkHealthDuration(value, key);
    else if (key === 'failuresBeforeDown' || key === 'successesBeforeUp') out[key] = checkHealthCount(countText(value, LIMITS[key].name), key);
  }
  return out;
}

export function countText(text: string, name: string): number {
  const n = parseIntegerText(text);
  if (n === undefined) throw new ValueError(`${name} must be a whole number, not "${text}"`);
  return n;
}

/** Later settings replace earlier ones field by field. */
export function mergeHealthCheck(base: HealthCheckSettings | undefined, over: HealthCheckSettings | undefined): HealthCheckSettings | undefined {
  if (!base) return over && { ...over };
  if (!over) return { ...base };
  const merged: HealthCheckSettings = { ...base };
  for (const key of Object.keys(over) as (keyof HealthCheckSettings)[]) {
    if (over[key] !== undefined) (merged as Record<string, unknown>)[key] = over[key];
  }
  return merged;
}

/** `every 10s, timeout 3s, down after 3 failures, up after 2 passes` (or `off`), for logs. */
export function describeHealthCheck(policy: PoolPolicy['healthCheck']): string {
  if (!policy.enabled) return 'off';
  return `every ${formatMs(policy.intervalMs)}, timeout ${formatMs(policy.timeoutMs)}, down after ${policy.failuresBeforeDown} failures, up after ${policy.successesBeforeUp} passes`;
}

export function formatMs(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
