/**
 * A link: a veth pair between two lab nodes, with per-direction delay and loss (one nfq-impair per
 * direction, started at the first impairment) and cuts (iptables DROP at both ends' ingress, so senders see no error,
 * only silence, as on a pulled cable).
 */
import { checkImpairment, ImpairDaemon, type DirectionStats, type Impairment } from './impair/daemon.js';
import type { LabNode } from './node.js';
import { interfaceName, linkAddress, linkSubnet } from './routes.js';
import { runIn } from './system.js';

export type Direction = 'aToB' | 'bToA';

const DIRECTIONS: readonly Direction[] = ['aToB', 'bToA'];

type Impairers = Record<Direction, ImpairDaemon>;

/**
 * A change of a link's impairments: `delayMs` / `lossPercent` set both directions, `aToB` / `bToA`
 * one direction (a = the link's first node); what is not given stays as it is.
 */
export interface LinkImpairment extends Partial<Impairment> {
  aToB?: Partial<Impairment>;
  bToA?: Partial<Impairment>;
}

export interface LinkStats {
  aToB: DirectionStats;
  bToA: DirectionStats;
}

export interface LinkOptions {
  /** Packets each direction holds at most; past it the kernel drops new packets (tail drop). */
  queueLimit: number;
  seed?: number;
  realtime?: boolean;
}

const NO_STATS: DirectionStats = { received: 0, passed: 0, lost: 0, held: 0, overflow: 0, userDropped: 0 };

/** An iptables rule that drops what arrives over `iface`, tagged so that it can be removed again. */
function dropRule(action: '-I' | '-D', iface: string, tag: string): string[] {
  return ['-w', '-t', 'raw', action, 'PREROUTING', '-i', iface, '-m', 'comment', '--comment', tag, '-j', 'DROP'];
}

export class LabLink {
  private readonly current: Record<Direction, Impairment> = { aToB: { delayMs: 0, lossPercent: 0 }, bToA: { delayMs: 0, lossPercent: 0 } };
  private impairers: Impairers | undefined;
  private starting: Promise<Impairers> | undefined;
  private cutState = false;

  constructor(
    readonly index: number,
    readonly a: LabNode,
    readonly b: LabNode,
    private readonly options: LinkOptions,
  ) {}

  get name(): string {
    return `${this.a.name}<->${this.b.name}`;
  }

  /** 10.0.L.0/24 */
  get subnet(): string {
    return linkSubnet(this.index);
  }

  /** The address `node` has on this link. */
  addressOf(node: LabNode | string): string {
    return linkAddress(this.index, this.sideOf(node));
  }

  /** The name of this link's interface inside `node`'s namespace. */
  interfaceOf(node: LabNode | string): string {
    return interfaceName(this.sideOf(node) === 'a' ? this.b.name : this.a.name);
  }

  has(node: LabNode | string): boolean {
    const name = typeof node === 'string' ? node : node.name;
    return name === this.a.name || name === this.b.name;
  }

  private sideOf(node: LabNode | string): 'a' | 'b' {
    const name = typeof node === 'string' ? node : node.name;
    if (name === this.a.name) return 'a';
    if (name === this.b.name) return 'b';
    throw new Error(`${name} is not on link ${this.name}`);
  }

  /** The impairments now in force. */
  impairment(): Record<Direction, Impairment> {
    return { aToB: { ...this.current.aToB }, bToA: { ...this.current.bToA } };
  }

  /** The direction a packet leaving `from` over this link travels. */
  directionFrom(from: LabNode | string): Direction {
    return this.sideOf(from) === 'a' ? 'aToB' : 'bToA';
  }

  /**
   * Changes delay and loss, also while traffic flows: packets already held keep their release
   * time, and a shorter delay never lets a packet overtake one held before it.
   */
  async set(change: LinkImpairment): Promise<void> {
    const next = {
      aToB: { ...this.current.aToB, ...pick(change), ...change.aToB },
      bToA: { ...this.current.bToA, ...pick(change), ...change.bToA },
    };
    checkImpairment(next.aToB);
    checkImpairment(next.bToA);
    const idle = (i: Impairment) => i.delayMs === 0 && i.lossPercent === 0;
    if (!this.impairers && !this.starting && idle(next.aToB) && idle(next.bToA)) return;
    if (!this.impairers && !this.starting) {
      this.starting = this.startImpairers(next);
      try {
        this.impairers = await this.starting;
      } finally {
        this.starting = undefined;
      }
    } else {
      // A set() racing the start-up waits for it, then applies its own values.
      const impairers = this.impairers ?? (await this.starting!);
      await Promise.all(DIRECTIONS.map((d) => impairers[d].set(this.queueOf(d), next[d])));
    }
    this.current.aToB = next.aToB;
    this.current.bToA = next.bToA;
  }

  /** The node a direction's packets arrive at, where they are held. */
  private receiver(direction: Direction): LabNode {
    return direction === 'aToB' ? this.b : this.a;
  }

  /** The NFQUEUE number of a direction, in its receiver's namespace: 2L for a->b, 2L+1 for b->a. */
  private queueOf(direction: Direction): number {
    return 2 * this.index + (direction === 'aToB' ? 0 : 1);
  }

  /**
   * One nfq-impair per direction, in the receiving node, holding packets as they arrive (mangle
   * PREROUTING). Held at the receiver they no longer belong to the sending socket (the stack
   * orphans them on input); held at the sender's egress they would count against TCP's small-queue
   * limit and cap a stream at a few packets per delay. Without a running nfq-impair the kernel drops
   * queued packets, so a dead impairer shows as a dead link, never as a silently unimpaired one.
   */
  private async startImpairers(initial: Record<Direction, Impairment>): Promise<Impairers> {
    const started = await Promise.allSettled(DIRECTIONS.map((d) => ImpairDaemon.start(this.receiver(d).netns, new Map([[this.queueOf(d), initial[d]]]), this.options)));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    const daemons = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    if (failed) {
      await Promise.all(daemons.map((d) => d.stop()));
      throw failed.reason;
    }
    const impairers: Impairers = { aToB: daemons[0]!, bToA: daemons[1]! };
    await Promise.all(
      DIRECTIONS.map((d) => {
        const node = this.receiver(d);
        return runIn(node.netns, 'iptables', ['-w', '-t', 'mangle', '-A', 'PREROUTING', '-i', this.interfaceOf(node), '-j', 'NFQUEUE', '--queue-num', String(this.queueOf(d))]);
      }),
    );
    return impairers;
  }

  /** Counters per direction (all 0 while the link was never impaired). */
  async stats(): Promise<LinkStats> {
    const impairers = this.impairers;
    if (!impairers) return { aToB: { ...NO_STATS }, bToA: { ...NO_STATS } };
    const [aToB, bToA] = await Promise.all(DIRECTIONS.map(async (d) => (await impairers[d].stats()).get(this.queueOf(d)) ?? { ...NO_STATS }));
    return { aToB: aToB!, bToA: bToA! };
  }

  /** The pids of this link's nfq-impair processes, per direction (undefined while never impaired). */
  get impairerPids(): Record<Direction, number> | undefined {
    return this.impairers ? { aToB: this.impairers.aToB.pid, bToA: this.impairers.bToA.pid } : undefined;
  }

  get isCut(): boolean {
    return this.cutState;
  }

  /** Drops everything crossing the link, both ways, until restore(). Sockets stay open at both ends. */
  async cut(): Promise<void> {
    if (this.cutState) return;
    await this.dropBothEnds('-I', 'hyblab-cut');
    this.cutState = true;
  }

  async restore(): Promise<void> {
    if (!this.cutState) return;
    await this.dropBothEnds('-D', 'hyblab-cut');
    this.cutState = false;
  }

  /**
   * Cuts the link for `ms`, then restores it; resolves once it is back, with how long it was
   * really cut (from the moment both ends dropped until both stopped dropping; iptables takes a
   * few milliseconds per end).
   */
  async cutFor(ms: number): Promise<{ cutMs: number }> {
    await this.cut();
    const started = performance.now();
    await new Promise((r) => setTimeout(r, ms));
    await this.restore();
    return { cutMs: performance.now() - started };
  }

  /** Adds (-I) or removes (-D) a tagged DROP rule at both ends' ingress (used by cuts and unplugs). */
  async dropBothEnds(action: '-I' | '-D', tag: string): Promise<void> {
    await Promise.all([this.a, this.b].map((node) => runIn(node.netns, 'iptables', dropRule(action, this.interfaceOf(node), tag))));
  }

  /** Stops the impairer (the lab does this when it is destroyed). */
  async close(): Promise<void> {
    const impairers = this.impairers;
    if (impairers) await Promise.all(DIRECTIONS.map((d) => impairers[d].stop()));
  }
}

function pick(change: LinkImpairment): Partial<Impairment> {
  const out: Partial<Impairment> = {};
  if (change.delayMs !== undefined) out.delayMs = change.delayMs;
  if (change.lossPercent !== undefined) out.lossPercent = change.lossPercent;
  return out;
}
