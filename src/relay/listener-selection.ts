/**
 * Which listener gets a new connection or request: round robin over the listeners that can take
 * it now, falling back to the strained ones only when there is no other.
 *
 * - ready: open, its control channel is not write-blocked, and it has not recently left a sender
 *   waiting (a listener that did not come to a rendezvous within the hand-off time is "silent"
 *   for SILENCE_DEMOTION_MS, or until it next shows up at one);
 * - strained: write-blocked or recently silent. It is offered work only when no listener is ready,
 *   so a frozen listener in a pool is passed over instead of being offered every Nth connection;
 * - excluded: closed, or over its buffered-bytes budget (it gets no more work at all).
 */
export const enum Eligibility {
  Ready = 0,
  Strained = 1,
  Excluded = 2,
}

/** How long a listener that left a sender waiting stays demoted (unless it shows up at a rendezvous sooner). */
export const SILENCE_DEMOTION_MS = 30_000;

export interface ListenerState {
  open: boolean;
  writeBlocked: boolean;
  overBudget: boolean;
  /** Demoted until this time (ms since the epoch); 0 when not silent. */
  silentUntil: number;
}

export function eligibilityOf(state: ListenerState, now = Date.now()): Eligibility {
  if (!state.open || state.overBudget) return Eligibility.Excluded;
  if (state.writeBlocked || state.silentUntil > now) return Eligibility.Strained;
  return Eligibility.Ready;
}

/**
 * The index of the candidate to use, searching round robin from `start`: the first ready one, else
 * the first strained one, else -1.
 */
export function pickRoundRobin<T>(candidates: readonly T[], start: number, eligibility: (candidate: T) => Eligibility): number {
  const n = candidates.length;
  let fallback = -1;
  for (let i = 0; i < n; i++) {
    const index = (start + i) % n;
    const e = eligibility(candidates[index]!);
    if (e === Eligibility.Ready) return index;
    if (e === Eligibility.Strained && fallback < 0) fallback = index;
  }
  return fallback;
}

/** Silence marks of listeners known only by key (other nodes' listeners in a cluster). Bounded. */
export class SilenceMarks {
  private readonly until = new Map<string, number>();

  constructor(private readonly maxEntries = 10_000) {}

  mark(key: string, now = Date.now()): void {
    if (this.until.size >= this.maxEntries) this.prune(now);
    if (this.until.size >= this.maxEntries) return;
    this.until.set(key, now + SILENCE_DEMOTION_MS);
  }

  clear(key: string): void {
    this.until.delete(key);
  }

  silentUntil(key: string): number {
    return this.until.get(key) ?? 0;
  }

  prune(now = Date.now()): void {
    for (const [key, t] of this.until) if (t <= now) this.until.delete(key);
  }
}
