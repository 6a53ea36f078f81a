/** One probe: resolves when the target accepted a connection within `timeoutMs`, rejects otherwise. */
import { clearTimer } from '../../util/clear-timer.js';
export type Probe<T> = (target: T, timeoutMs: number) => Promise<void>;

export interface HealthCheckerOptions<M> {
  intervalMs: number;
  timeoutMs: number;
  /** Called after every probe with its outcome (an error when it failed). */
  report(member: M, error: Error | undefined): void;
}

/**
 * Active health checks: every member is probed right away, then `intervalMs` after its previous
 * probe ended, so probes of one member never overlap and a slow target is not probed more often.
 * Members are probed independently; timers do not keep the process alive.
 */
export class HealthChecker<M extends { readonly target: T }, T> {
  private readonly timers = new Map<M, NodeJS.Timeout>();
  private running = false;

  constructor(
    private readonly members: readonly M[],
    private readonly probe: Probe<T>,
    private readonly options: HealthCheckerOptions<M>,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    for (const member of this.members) this.schedule(member, 0);
  }

  stop(): void {
    this.running = false;
    for (const timer of this.timers.values()) clearTimer(timer);
    this.timers.clear();
  }

  private schedule(member: M, delayMs: number): void {
    const timer = setTimeout(() => void this.run(member), delayMs);
    timer.unref();
    this.timers.set(member, timer);
  }

  private async run(member: M): Promise<void> {
    let error: Error | undefined;
    try {
      await this.probe(member.target, this.options.timeoutMs);
    } catch (err) {
      error = err as Error;
    }
    if (!this.running) return;
    this.options.report(member, error);
    if (this.running) this.schedule(member, this.options.intervalMs);
  }
}
