/** What every flood of the attacker process has: its parameters, a stop flag, and counters it reports. */
export interface FloodContext {
  params: Record<string, unknown>;
  stopped(): boolean;
  count(what: string, n?: number): void;
  /** Sockets the flood holds; all are destroyed when the attacker stops. */
  hold<T extends { destroy(): void }>(socket: T): T;
}

/** Sets up (resolves when ready to run), then runs until ctx.stopped(). */
export type Flood = (ctx: FloodContext) => Promise<() => Promise<void>>;

export function param<T>(ctx: FloodContext, name: string, fallback?: T): T {
  const value = ctx.params[name];
  if (value === undefined) {
    if (fallback === undefined) throw new Error(`attacker parameter "${name}" is missing`);
    return fallback;
  }
  return value as T;
}

/** Runs `work` with at most `concurrency` in flight until stopped (or `limit` runs). */
export async function pool(ctx: FloodContext, concurrency: number, work: (i: number) => Promise<void>, limit = Number.POSITIVE_INFINITY): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (!ctx.stopped() && next < limit) {
      const i = next++;
      try {
        await work(i);
      } catch (err) {
        ctx.count(`error:${(err as NodeJS.ErrnoException).code ?? (err as Error).message.slice(0, 40)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Source addresses 127.0.0.{from}..{from+n-1}: each counts as another client. */
export function sources(from: number, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `127.0.0.${from + i}`);
}
