/**
 * A link: a veth pair between two lab nodes, with per-direction delay and loss (nfq-impair, started
 * at the first impairment) and cuts (iptables DROP at both ends' ingress, so senders see no error,
 * only silence, as on a pulled cable).
 */
import { checkImpairment, ImpairDaemon, type DirectionStats, type Impairment } from './impair/daemon.js';
import type { LabNode } from './node.js';
import { interfaceName, linkAddress, linkSubnet } from './routes.js';
import { runIn } from './system.js';

export type Direction = 'aToB' | 'bToA';

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
}

const NO_STATS: DirectionStats = { received: 0, passed: 0, lost: 0, held: 0, overflow: 0, userDropped: 0 };

/** An iptables rule that drops what arrives over `iface`, tagged so that it can be removed again. */
function dropRule(action: '-I' | '-D', iface: string, tag: string): string[] {
  return ['-w', '-t', 'raw', action, 'PREROUTING', '-i', iface, '-m', 'comment', '--comment', tag, '-j', 'DROP'];
}

export class LabLink {
  private readonly current: Record<Direction, Impairment> = { aToB: { delayMs: 0, lossPercent: 0 }, bToA: { delayMs: 0, lossPercent: 0 } };
  private daemon: ImpairDaemon | undefined;
  private starting: Promise<ImpairDaemon> | undefined;
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
    if (!this.daemon && !this.starting && idle(next.aToB) && idle(next.bToA)) return;
    if (!this.daemon && !this.starting) {
      this.starting = this.startDaemon(next);
      try {
        this.daemon = await this.starting;
      } finally {
        this.starting = undefined;
      }
    } else {
      // A set() racing the start-up waits for it, then applies its own values.
      const daemon = this.daemon ?? (await this.starting!);
      await daemon.set(this.queueOf('aToB'), next.aToB);
      await daemon.set(this.queueOf('bToA'), next.bToA);
    }
    this.current.aToB = next.aToB;
    this.current.bToA = next.bToA;
  }

  /** NFQUEUE numbers in node a's namespace: 2L for a->b (leaving a), 2L+1 for b->a (arriving at a). */
  private queueOf(direction: Direction): number {
    return 2 * this.index + (direction === 'aToB' ? 0 : 1);
  }

  private async startDaemon(initial: Record<Direction, Impairment>): Promise<ImpairDaemon> {
    const queues = new Map([
      [this.queueOf('aToB'), initial.aToB],
      [this.queueOf('bToA'), initial.bToA],
    ]);
    const daemon = await ImpairDaemon.start(this.a.netns, queues, this.options);
    const iface = this.interfaceOf(this.a);
    // Both directions are held in node a: leaving it (POSTROUTING) and arriving in it (PREROUTING).
    // Without a running nfq-impair the kernel drops queued packets, so a dead impairer shows as a dead link.
    await runIn(this.a.netns, 'iptables', ['-w', '-t', 'mangle', '-A', 'POSTROUTING', '-o', iface, '-j', 'NFQUEUE', '--queue-num', String(this.queueOf('aToB'))]);
    await runIn(this.a.netns, 'iptables', ['-w', '-t', 'mangle', '-A', 'PREROUTING', '-i', iface, '-j', 'NFQUEUE', '--queue-num', String(this.queueOf('bToA'))]);
    return daemon;
  }

  /** Counters per direction (all 0 while the link was never impaired). */
  async stats(): Promise<LinkStats> {
    if (!this.daemon) return { aToB: { ...NO_STATS }, bToA: { ...NO_STATS } };
    const byQueue = await this.daemon.stats();
    return { aToB: byQueue.get(this.queueOf('aToB')) ?? { ...NO_STATS }, bToA: byQueue.get(this.queueOf('bToA')) ?? { ...NO_STATS } };
  }

  /** The pid of this link's nfq-impair (undefined while never impaired). */
  get impairerPid(): number | undefined {
    return this.daemon?.pid;
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
    await this.daemon?.stop();
  }
}

function pick(change: LinkImpairment): Partial<Impairment> {
  const out: Partial<Impairment> = {};
  if (change.delayMs !== undefined) out.delayMs = change.delayMs;
  if (change.lossPercent !== undefined) out.lossPercent = change.lossPercent;
  return out;
}
