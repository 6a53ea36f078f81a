import { DialError } from '../../forwarding/dial.js';
import type { Logger } from '../../util/logger.js';
import { describeHealthCheck, type PoolBinding, type PoolPolicy } from '../config/index.js';
import { Balancer } from './balancer.js';
import { HealthChecker, type Probe } from './health-checker.js';
import { describeTarget } from './stream-target.js';

/** One target of a pool and what the pool knows about it. */
export interface PoolMember<T extends PoolBinding = PoolBinding> {
  readonly target: T;
  /** `tcp:10.0.0.1:5432`, `unix:/run/db.sock`: how logs name it. */
  readonly label: string;
  /** Takes new connections. Always true when the pool has no health checks. */
  up: boolean;
  /** Connections open to it, dials in progress included. */
  active: number;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
}

export interface TargetPoolOptions<T> {
  relayName: string;
  log: Logger;
  /** How active health checks reach a target (stream pools with health checks on). */
  probe?: Probe<T>;
}

/** A connection made through the pool, or why none could be made. */
export type PoolConnectResult<T extends PoolBinding, R> =
  | { ok: true; member: PoolMember<T>; value: R }
  | { ok: false; allDown: boolean; tried: number; code: string; reason: string; lastTarget?: string; dialCode: string };

/**
 * The targets one logical port leads to (bindings that share a port name on one relay). New
 * connections go to the member the balancer picks among those that are up; a target that does not
 * answer is skipped for the next one, so the sender does not see the failure while another
 * target works.
 *
 * With health checks on, targets go down and up:
 * - active: a probe every Interval; FailuresBeforeDown failed probes in a row take a target down,
 *   SuccessesBeforeUp passed probes in a row bring it back;
 * - passive: a connection that cannot reach a target takes it down at once, as long as another
 *   target is up; the last target standing goes down only after FailuresBeforeDown failures in a
 *   row (probes and connections counted together), so one lost dial does not refuse every sender.
 * A target that is down gets no new connections; when every target is down the port refuses new
 * connections at once until a health check brings one back. Without health checks (one target, UDP,
 * or HealthCheck off) every target is tried for every connection, in balancing order.
 */
export class TargetPool<T extends PoolBinding = PoolBinding> {
  readonly members: PoolMember<T>[];
  private readonly balancer: Balancer;
  private readonly checker: HealthChecker<PoolMember<T>, T> | undefined;

  constructor(
    readonly portName: string,
    targets: readonly T[],
    readonly policy: PoolPolicy,
    private readonly options: TargetPoolOptions<T>,
  ) {
    this.members = targets.map((target) => ({ target, label: describeTarget(target), up: true, active: 0, consecutiveFailures: 0, consecutiveSuccesses: 0 }));
    this.balancer = new Balancer(policy.balance);
    const health = policy.healthCheck;
    if (health.enabled && options.probe) {
      this.checker = new HealthChecker(this.members, options.probe, {
        intervalMs: health.intervalMs,
        timeoutMs: health.timeoutMs,
        report: (member, error) => this.checked(member, error),
      });
    }
  }

  get upCount(): number {
    return this.members.filter((m) => m.up).length;
  }

  /** Starts the health checks (if any) and logs what the pool is. */
  start(): void {
    if (this.members.length > 1 || this.policy.healthCheck.enabled) {
      this.options.log.info(
        {
          hyco: this.options.relayName,
          port: this.portName,
          targets: this.members.map((m) => m.label).join(', '),
          balance: this.policy.balance,
          healthCheck: describeHealthCheck(this.policy.healthCheck),
        },
        'target pool',
      );
    }
    this.checker?.start();
  }

  close(): void {
    this.checker?.stop();
  }

  /** The member for a new connection, not one of `tried`; counted as active until release(). */
  acquire(tried: ReadonlySet<PoolMember<T>> = new Set()): PoolMember<T> | undefined {
    const member = this.balancer.pick(this.members, (m) => m.up && !tried.has(m));
    if (member) member.active++;
    return member;
  }

  release(member: PoolMember<T>): void {
    if (member.active > 0) member.active--;
  }

  /**
   * Dials members in balancing order until one answers or the sender is gone. The member that
   * answered stays acquired: release() it when the connection ends.
   */
  async connect<R>(dial: (target: T) => Promise<R>, senderGone: () => boolean): Promise<PoolConnectResult<T, R>> {
    const tried = new Set<PoolMember<T>>();
    let lastError: Error | undefined;
    let lastTarget: string | undefined;
    for (let member = this.acquire(tried); member; member = senderGone() ? undefined : this.acquire(tried)) {
      tried.add(member);
      lastTarget = member.label;
      try {
        const value = await dial(member.target);
        member.consecutiveFailures = 0;
        return { ok: true, member, value };
      } catch (err) {
        this.release(member);
        lastError = err as Error;
        this.dialFailed(member, lastError);
        if (tried.size < this.members.length) {
          this.options.log.debug({ hyco: this.options.relayName, port: this.portName, target: member.label, reason: lastError.message }, 'target did not answer; trying the next one');
        }
      }
    }
    const port = `port "${this.portName}"`;
    if (tried.size === 0 && !senderGone()) {
      const reason = `all ${this.members.length} targets of ${port} are down`;
      return { ok: false, allDown: true, tried: 0, code: reason, reason: `${reason} (health checks: ${describeHealthCheck(this.policy.healthCheck)})`, dialCode: 'all_targets_down' };
    }
    const code = lastError instanceof DialError ? (lastError.code ?? 'connection_failed') : 'connection_failed';
    const reason = lastError?.message ?? 'the sender went away';
    if (this.members.length === 1) return { ok: false, allDown: false, tried: tried.size, code, reason, lastTarget, dialCode: code };
    return { ok: false, allDown: false, tried: tried.size, code: `no target of ${port} answered (last: ${code})`, reason: `no target of ${port} answered; last: ${reason}`, lastTarget, dialCode: code };
  }

  /** Passive detection: a connection could not reach `member`. */
  private dialFailed(member: PoolMember<T>, error: Error): void {
    if (!this.policy.healthCheck.enabled) return;
    member.consecutiveSuccesses = 0;
    member.consecutiveFailures++;
    if (!member.up) return;
    const anotherUp = this.members.some((m) => m !== member && m.up);
    if (anotherUp || member.consecutiveFailures >= this.policy.healthCheck.failuresBeforeDown) {
      this.markDown(member, `a connection could not reach it: ${error.message}`);
    }
  }

  /** Active detection: the outcome of one probe. */
  private checked(member: PoolMember<T>, error: Error | undefined): void {
    const { failuresBeforeDown, successesBeforeUp } = this.policy.healthCheck;
    if (!error) {
      member.consecutiveFailures = 0;
      member.consecutiveSuccesses++;
      if (!member.up && member.consecutiveSuccesses >= successesBeforeUp) this.markUp(member, `health check passed ${plural(member.consecutiveSuccesses, 'time')} in a row`);
      return;
    }
    member.consecutiveSuccesses = 0;
    member.consecutiveFailures++;
    if (member.up && member.consecutiveFailures >= failuresBeforeDown) {
      this.markDown(member, `health check failed ${plural(member.consecutiveFailures, 'time')} in a row: ${error.message}`);
    }
  }

  private markDown(member: PoolMember<T>, reason: string): void {
    member.up = false;
    const log = this.options.log;
    const fields = { hyco: this.options.relayName, port: this.portName, target: member.label, reason, up: `${this.upCount}/${this.members.length}` };
    log.warn(fields, 'target down');
    if (this.upCount === 0) {
      log.error(
        { hyco: this.options.relayName, port: this.portName, targets: this.members.length },
        'every target of the port is down; new connections to it are refused until a health check brings one back',
      );
    }
  }

  private markUp(member: PoolMember<T>, reason: string): void {
    member.up = true;
    this.options.log.info({ hyco: this.options.relayName, port: this.portName, target: member.label, reason, up: `${this.upCount}/${this.members.length}` }, 'target up');
  }
}

function plural(n: number, word: string): string {
  return n === 1 ? `1 ${word}` : `${n} ${word}s`;
}
