/** Rates from two status samples: shared by `hybridge status` and the dashboard (no imports, so the page bundles it). */

export interface ByteTotals {
  bytesToListener: number;
  bytesToSender: number;
}

export interface Sample {
  node: string;
  time: string;
  hybridConnections: readonly (ByteTotals & { name: string })[];
}

export interface Rate {
  toListener: number;
  toSender: number;
}

/** Seconds between two samples of one node; 0 when they cannot be compared. */
export function secondsBetween(before: Sample | undefined, after: Sample): number {
  if (!before || before.node !== after.node) return 0;
  return Math.max(0, (Date.parse(after.time) - Date.parse(before.time)) / 1000);
}

/** Bytes per second between two totals (a total that went down, after a restart, counts as 0). */
export function rateBetween(before: ByteTotals | undefined, after: ByteTotals, seconds: number): Rate {
  const per = (now: number, then: number | undefined) => (seconds > 0 && then !== undefined ? Math.max(0, now - then) / seconds : 0);
  return { toListener: per(after.bytesToListener, before?.bytesToListener), toSender: per(after.bytesToSender, before?.bytesToSender) };
}

/** Each hybrid connection's rates between two samples. */
export function hycoRates(before: Sample | undefined, after: Sample): Record<string, Rate> {
  const seconds = secondsBetween(before, after);
  const rates: Record<string, Rate> = {};
  for (const hc of after.hybridConnections) rates[hc.name] = rateBetween(before?.hybridConnections.find((h) => h.name === hc.name), hc, seconds);
  return rates;
}
