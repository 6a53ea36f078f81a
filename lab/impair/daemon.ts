/**
 * One nfq-impair process inside a namespace, serving the NFQUEUE numbers of one link (one queue per
 * direction). Commands go to its stdin one at a time, each answered by one line.
 */
import { spawn } from 'node:child_process';
import { LineProcess } from '../line-process.js';
import { inNetns } from '../system.js';
import { impairBinary } from './build.js';

/** Delay and loss of one direction of a link. */
export interface Impairment {
  /** One-way delay in milliseconds (0 to 60,000; microsecond resolution). */
  delayMs: number;
  /** Share of packets dropped, in percent (0 to 100; 0.0001 % resolution). */
  lossPercent: number;
}

/** Counters of one direction, since its link was first impaired. */
export interface DirectionStats {
  /** Packets that reached the queue. */
  received: number;
  /** Packets released after their delay. */
  passed: number;
  /** Packets dropped by the loss share. */
  lost: number;
  /** Packets held right now. */
  held: number;
  /** Packets the kernel dropped because the queue was full (queueLimit packets held). */
  overflow: number;
  /** Packets the kernel dropped because nfq-impair's socket buffer was full (should stay 0). */
  userDropped: number;
}

interface RawQueueStats extends DirectionStats {
  queue: number;
  ringFull: number;
}

export function checkImpairment(i: Impairment): void {
  if (!(Number.isFinite(i.delayMs) && i.delayMs >= 0 && i.delayMs <= 60_000)) throw new RangeError(`delayMs must be 0..60000, got ${i.delayMs}`);
  if (!(Number.isFinite(i.lossPercent) && i.lossPercent >= 0 && i.lossPercent <= 100)) throw new RangeError(`lossPercent must be 0..100, got ${i.lossPercent}`);
}

function queueArgs(i: Impairment): [string, string] {
  return [String(Math.round(i.delayMs * 1000)), String(Math.round(i.lossPercent * 10_000))];
}

export interface DaemonOptions {
  /** Packets one queue holds at most before the kernel drops new ones. */
  queueLimit: number;
  /** Seed of the loss decisions (reproducible runs). */
  seed?: number;
  /** Run nfq-impair as SCHED_FIFO (default true): timely releases on a busy machine. */
  realtime?: boolean;
}

export class ImpairDaemon {
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(private readonly proc: LineProcess) {}

  static async start(netns: string, queues: ReadonlyMap<number, Impairment>, options: DaemonOptions): Promise<ImpairDaemon> {
    const binary = await impairBinary();
    const args = ['--maxlen', String(options.queueLimit), ...(options.seed !== undefined ? ['--seed', String(options.seed)] : []), ...(options.realtime === false ? ['--no-realtime'] : [])];
    for (const [queue, impairment] of queues) args.push([String(queue), ...queueArgs(impairment)].join(':'));
    const [file, fileArgs] = inNetns(netns, binary, args);
    const proc = new LineProcess(`nfq-impair in ${netns}`, spawn(file, fileArgs, { stdio: ['pipe', 'pipe', 'pipe'] }));
    const first = await proc.next(10_000).catch(async (err: unknown) => {
      await proc.stop();
      throw err;
    });
    if (first !== 'ready') {
      await proc.stop();
      throw new Error(`nfq-impair in ${netns} did not start: ${first} ${proc.stderr()}`);
    }
    return new ImpairDaemon(proc);
  }

  get pid(): number {
    return this.proc.pid;
  }

  /** Whether the process still runs (when it is gone, its queues drop every packet). */
  get running(): boolean {
    return !this.proc.hasExited;
  }

  private request(line: string): Promise<string> {
    const reply = this.chain.then(() => {
      this.proc.send(line);
      return this.proc.next(5000);
    });
    this.chain = reply.catch(() => undefined);
    return reply;
  }

  async set(queue: number, impairment: Impairment): Promise<void> {
    checkImpairment(impairment);
    const reply = await this.request(['set', String(queue), ...queueArgs(impairment)].join(' '));
    if (reply !== 'ok') throw new Error(`nfq-impair refused set ${queue}: ${reply}`);
  }

  async stats(): Promise<Map<number, DirectionStats>> {
    const reply = await this.request('stats');
    const parsed = JSON.parse(reply) as { queues: RawQueueStats[] };
    return new Map(parsed.queues.map((q) => [q.queue, { received: q.received, passed: q.passed, lost: q.lost, held: q.held, overflow: q.overflow, userDropped: q.userDropped + q.ringFull }]));
  }

  stop(): Promise<void> {
    return this.proc.stop();
  }
}
