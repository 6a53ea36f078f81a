import { hycoRates, rateBetween, secondsBetween, type Rate } from '../observability/status/rates.js';
import type { StatusView } from './api.js';

export interface Rates {
  hycos: Record<string, Rate>;
  connections: Record<string, Rate>;
  /** All hybrid connections together, bytes per second. */
  total: Rate;
}

export const NO_RATES: Rates = { hycos: {}, connections: {}, total: { toListener: 0, toSender: 0 } };

/** Rates between two polls: per hybrid connection, per live connection (new ones from 0), and in all. */
export function ratesBetween(before: StatusView | undefined, after: StatusView): Rates {
  const seconds = secondsBetween(before, after);
  if (!before || seconds === 0) return NO_RATES;
  const hycos = hycoRates(before, after);
  const connections: Record<string, Rate> = {};
  for (const c of after.connections) {
    if (!c.trackingId) continue;
    const old = before.connections.find((o) => o.trackingId === c.trackingId) ?? { bytesToListener: 0, bytesToSender: 0 };
    connections[c.trackingId] = rateBetween(old, c, seconds);
  }
  const total = Object.values(hycos).reduce((sum, r) => ({ toListener: sum.toListener + r.toListener, toSender: sum.toSender + r.toSender }), { toListener: 0, toSender: 0 });
  return { hycos, connections, total };
}
