/**
 * A lab node: one network namespace with its own address, the processes run inside it, and the
 * "unplugged" state (nothing reaches it or leaves it, while its sockets stay open).
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import type { LabLink } from './link.js';
import { nodeAddress } from './routes.js';
import { inNetns, runIn, type RunOptions } from './system.js';

/** One TCP socket as `ss` shows it inside a node. */
export interface TcpSocket {
  state: string;
  local: string;
  peer: string;
}

export class LabNode {
  private unpluggedState = false;
  /** What spawn() started and has not exited yet (a process still entering the namespace is not in `ip netns pids`). */
  private readonly children = new Set<ChildProcess>();

  constructor(
    readonly name: string,
    /** The node's number in its lab (1, 2, ...), which its address is made of. */
    readonly index: number,
    /** The namespace's name (`ip netns exec NETNS ...`). */
    readonly netns: string,
    private readonly linksOf: (node: LabNode) => LabLink[],
  ) {}

  /** The node's own address (on its loopback), reachable from every node of the lab. */
  get address(): string {
    return nodeAddress(this.index);
  }

  /** The links this node is on. */
  get links(): LabLink[] {
    return this.linksOf(this);
  }

  /** The command and arguments that run `file args` inside this node (for any process helper). */
  wrap(file: string, args: readonly string[] = []): [string, string[]] {
    return inNetns(this.netns, file, args);
  }

  /** Starts `file args` inside this node. The process's pid is the program's own (ip execs it). */
  spawn(file: string, args: readonly string[] = [], options: SpawnOptions = {}): ChildProcess {
    const [f, a] = this.wrap(file, args);
    const child = spawn(f, a, { stdio: ['pipe', 'pipe', 'pipe'], ...options });
    if (child.pid !== undefined) {
      this.children.add(child);
      child.once('exit', () => this.children.delete(child));
    }
    return child;
  }

  /** The pids of the processes spawn() started that have not exited. */
  get spawnedPids(): number[] {
    return [...this.children].map((c) => c.pid!);
  }

  /** Runs `file args` inside this node to completion; resolves with stdout, rejects on failure. */
  exec(file: string, args: readonly string[] = [], options: RunOptions = {}): Promise<string> {
    return runIn(this.netns, file, args, options);
  }

  /** Resolves once a TCP socket listens on `port` inside this node; rejects after `timeoutMs`. */
  async waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const out = await this.exec('ss', ['-Hltn', 'sport', '=', `:${port}`]);
      if (out.trim()) return;
      if (Date.now() > deadline) throw new Error(`nothing listens on port ${port} in lab node ${this.name} after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The node's TCP sockets (listening ones included), as `ss -tan` reports them. */
  async tcpSockets(): Promise<TcpSocket[]> {
    const out = await this.exec('ss', ['-Htan']);
    return out
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .filter((f) => f.length >= 5)
      .map((f) => ({ state: f[0]!, local: f[3]!, peer: f[4]! }));
  }

  /** The kernel's TCP counters inside this node (/proc/net/snmp "Tcp:"), e.g. RetransSegs. */
  async tcpCounters(): Promise<Record<string, number>> {
    const lines = (await this.exec('cat', ['/proc/net/snmp'])).split('\n').filter((l) => l.startsWith('Tcp:'));
    const names = lines[0]?.split(/\s+/).slice(1) ?? [];
    const values = lines[1]?.split(/\s+/).slice(1).map(Number) ?? [];
    return Object.fromEntries(names.map((n, i) => [n, values[i] ?? 0]));
  }

  get unplugged(): boolean {
    return this.unpluggedState;
  }

  /**
   * Drops everything that reaches this node or leaves it, on every link it has (at both ends'
   * ingress), without touching its processes: its sockets stay open and its sends succeed
   * locally, as when a machine's cable is pulled or a VM freezes. plug() undoes it.
   */
  async unplug(): Promise<void> {
    if (this.unpluggedState) return;
    await Promise.all(this.links.map((link) => link.dropBothEnds('-I', this.unplugTag)));
    this.unpluggedState = true;
  }

  async plug(): Promise<void> {
    if (!this.unpluggedState) return;
    await Promise.all(this.links.map((link) => link.dropBothEnds('-D', this.unplugTag)));
    this.unpluggedState = false;
  }

  private get unplugTag(): string {
    return `hyblab-unplug-${this.name}`;
  }
}
