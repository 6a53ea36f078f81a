import { isMap } from 'yaml';
import {
  checkBalanceMode,
  checkHealthCount,
  checkHealthDuration,
  countText,
  parseHealthCheckSpec,
  type HealthCheckSettings,
  type LocatedPoolSettings,
} from './pool-settings.js';
import { checked, readBoolean, readMapping, readString, type MappingValue, type YamlContext } from './yaml-values.js';

/**
 * The target-pool keys, at the top level (defaults for every pool), on a RemoteForward entry (for
 * its bindings) or on a binding:
 *
 *   LoadBalancing: round-robin | least-connections
 *   HealthCheck: { Enabled: true, Interval: 10s, Timeout: 3s, FailuresBeforeDown: 3, SuccessesBeforeUp: 2 }
 *   HealthCheck: off                       (or on, or the compact form interval=5s,fail=2)
 *
 * Durations are `500ms`, `5s`, `1m` or a number of seconds.
 */
export const POOL_KEYS = ['LoadBalancing', 'HealthCheck'] as const;

const HEALTH_CHECK_KEYS = ['Enabled', 'Interval', 'Timeout', 'FailuresBeforeDown', 'SuccessesBeforeUp'];

export function readLoadBalancing(entry: MappingValue, ctx: YamlContext) {
  return checked(entry, ctx, () => checkBalanceMode(readString(entry, ctx)));
}

export function readHealthCheck(entry: MappingValue, ctx: YamlContext): HealthCheckSettings {
  const node = entry.value!;
  if (!isMap(node)) return checked(entry, ctx, () => parseHealthCheckSpec(readString(entry, ctx)));
  const out: HealthCheckSettings = {};
  for (const item of readMapping(node, HEALTH_CHECK_KEYS, 'HealthCheck', ctx).values()) {
    if (item.value === undefined) continue;
    const text = () => readString(item, ctx);
    switch (item.key) {
      case 'Enabled':
        out.enabled = readBoolean(item, ctx);
        break;
      case 'Interval':
        out.intervalMs = checked(item, ctx, () => checkHealthDuration(text(), 'intervalMs'));
        break;
      case 'Timeout':
        out.timeoutMs = checked(item, ctx, () => checkHealthDuration(text(), 'timeoutMs'));
        break;
      case 'FailuresBeforeDown':
        out.failuresBeforeDown = checked(item, ctx, () => checkHealthCount(countText(text(), item.key), 'failuresBeforeDown'));
        break;
      case 'SuccessesBeforeUp':
        out.successesBeforeUp = checked(item, ctx, () => checkHealthCount(countText(text(), item.key), 'successesBeforeUp'));
        break;
    }
  }
  return out;
}

/**
 * The pool keys of an entry or binding mapping, layered over `inherited` (the entry's, for a
 * binding), or undefined when neither states any.
 */
export function readPoolKeys(m: Map<string, MappingValue>, ctx: YamlContext, inherited?: LocatedPoolSettings): LocatedPoolSettings | undefined {
  const balanceEntry = m.get('LoadBalancing');
  const healthEntry = m.get('HealthCheck');
  const balance = balanceEntry?.value !== undefined ? readLoadBalancing(balanceEntry, ctx) : undefined;
  const healthCheck = healthEntry?.value !== undefined ? readHealthCheck(healthEntry, ctx) : undefined;
  if (balance === undefined && healthCheck === undefined) return inherited;
  const where = ctx.where((balanceEntry ?? healthEntry)!.keyNode);
  return {
    where,
    ...((balance ?? inherited?.balance) !== undefined && { balance: balance ?? inherited?.balance }),
    ...((healthCheck ?? inherited?.healthCheck) !== undefined && { healthCheck: { ...inherited?.healthCheck, ...healthCheck } }),
  };
}
