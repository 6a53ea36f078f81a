/**
 * The network-fault lab: nodes (network namespaces) joined by links (veth pairs) with user-space
 * delay, loss and cuts. A lab's namespaces carry its unique id, so parallel labs never collide; it
 * removes everything it made on destroy(), on process exit and (through its reaper) when its owner
 * is killed. See docs/lab.md.
 */
import { guardLab, releaseLab } from './guard.js';
import { LabLink, type LinkImpairment } from './link.js';
import { cleanStaleLabs, newLabId, removeNamespaces } from './namespaces.js';
import { LabNode } from './node.js';
import { interfaceName, linkAddress, MAX_LINKS, MAX_NODES, nodeAddress, routeCommands } from './routes.js';
import { labUnavailable } from './support.js';
import { IP, run } from './system.js';

export interface LabOptions {
  /** Packets one direction of a link holds at most (default 10,000); past it the kernel drops new packets. */
  queueLimit?: number;
  /** Seed of the links' loss decisions (each link adds its number), for reproducible runs. */
  seed?: number;
  /**
   * Run each link's nfq-impair as a SCHED_FIFO process (default true), so that a busy machine does
   * not stretch the delays; false keeps it a normal process (to compare).
   */
  realtime?: boolean;
}

export interface LinkDef extends LinkImpairment {
  a: string;
  b: string;
}

export interface Topology {
  nodes: string[];
  links?: LinkDef[];
}

const NODE_NAME = /^[a-z][a-z0-9]{0,11}$/;

export class Lab {
  private readonly nodeList: LabNode[] = [];
  private readonly linkList: LabLink[] = [];
  private destroying: Promise<void> | undefined;

  private constructor(
    readonly id: string,
    private readonly options: Required<Pick<LabOptions, 'queueLimit'>> & LabOptions,
  ) {}

  /** Creates a lab with `topology`'s nodes and links (more can be added later). */
  static async create(topology: Topology = { nodes: [] }, options: LabOptions = {}): Promise<Lab> {
    const why = labUnavailable();
    if (why) throw new Error(why);
    const queueLimit = options.queueLimit ?? 10_000;
    if (!Number.isInteger(queueLimit) || queueLimit < 1 || queueLimit > 1_000_000) throw new RangeError(`queueLimit must be 1..1000000, got ${queueLimit}`);
    await cleanStaleLabs().catch(() => undefined);
    const lab = new Lab(newLabId(), { ...options, queueLimit });
    guardLab(lab.id);
    try {
      for (const name of topology.nodes) await lab.addNode(name);
      for (const { a, b, ...impairment } of topology.links ?? []) await lab.addLink(a, b, impairment);
    } catch (err) {
      await lab.destroy();
      throw err;
    }
    return lab;
  }

  get nodes(): readonly LabNode[] {
    return this.nodeList;
  }

  get links(): readonly LabLink[] {
    return this.linkList;
  }

  node(name: string): LabNode {
    const node = this.nodeList.find((n) => n.name === name);
    if (!node) throw new Error(`lab ${this.id} has no node ${name}`);
    return node;
  }

  /** The link between `a` and `b` (either order). */
  link(a: string | LabNode, b: string | LabNode): LabLink {
    const link = this.linkList.find((l) => l.has(a) && l.has(b));
    if (!link) throw new Error(`lab ${this.id} has no link between ${String(typeof a === 'string' ? a : a.name)} and ${String(typeof b === 'string' ? b : b.name)}`);
    return link;
  }

  private checkOpen(): void {
    if (this.destroying) throw new Error(`lab ${this.id} was destroyed`);
  }

  /** A new node: a namespace with loopback up, its address, forwarding on, IPv6 off (quiet links). */
  async addNode(name: string): Promise<LabNode> {
    this.checkOpen();
    if (!NODE_NAME.test(name)) throw new Error(`lab node name must be 1-12 lowercase letters and digits, starting with a letter: ${name}`);
    if (this.nodeList.some((n) => n.name === name)) throw new Error(`lab ${this.id} already has a node ${name}`);
    if (this.nodeList.length >= MAX_NODES) throw new Error(`a lab holds at most ${MAX_NODES} nodes`);
    const node = new LabNode(name, this.nodeList.length + 1, `${this.id}-${name}`, (n) => this.linkList.filter((l) => l.has(n)));
    this.nodeList.push(node);
    await run(IP, ['netns', 'add', node.netns]);
    await run(IP, ['-n', node.netns, 'link', 'set', 'lo', 'up']);
    await run(IP, ['-n', node.netns, 'addr', 'add', `${nodeAddress(node.index)}/32`, 'dev', 'lo']);
    await node.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    return node;
  }

  /** A new link between two nodes, with optional initial impairments; routes are updated on every node. */
  async addLink(aName: string, bName: string, impairment: LinkImpairment = {}): Promise<LabLink> {
    this.checkOpen();
    const a = this.node(aName);
    const b = this.node(bName);
    if (a === b) throw new Error(`a lab link needs two different nodes (${aName})`);
    if (this.linkList.some((l) => l.has(a) && l.has(b))) throw new Error(`lab ${this.id} already links ${aName} and ${bName}`);
    if (this.linkList.length >= MAX_LINKS) throw new Error(`a lab holds at most ${MAX_LINKS} links`);
    const index = this.linkList.length + 1;
    const link = new LabLink(index, a, b, {
      queueLimit: this.options.queueLimit,
      ...(this.options.seed !== undefined ? { seed: this.options.seed + index } : {}),
      ...(this.options.realtime !== undefined ? { realtime: this.options.realtime } : {}),
    });
    // Both ends are created directly in their namespaces: nothing of the lab ever exists in the host's.
    await run(IP, ['link', 'add', 'name', interfaceName(b.name), 'netns', a.netns, 'type', 'veth', 'peer', 'name', interfaceName(a.name), 'netns', b.netns]);
    this.linkList.push(link);
    for (const [node, side] of [[a, 'a'], [b, 'b']] as const) {
      const iface = link.interfaceOf(node);
      await run(IP, ['-n', node.netns, 'addr', 'add', `${linkAddress(index, side)}/24`, 'dev', iface]);
      await run(IP, ['-n', node.netns, 'link', 'set', iface, 'up']);
    }
    await this.updateRoutes();
    await link.set(impairment);
    return link;
  }

  private async updateRoutes(): Promise<void> {
    const nodes = this.nodeList.map((n) => ({ name: n.name, index: n.index }));
    const links = this.linkList.map((l) => ({ index: l.index, a: l.a.name, b: l.b.name }));
    await Promise.all(
      this.nodeList.map(async (node) => {
        const lines = routeCommands(node, nodes, links);
        if (lines.length) await run(IP, ['-n', node.netns, '-batch', '-'], { input: `${lines.join('\n')}\n` });
      }),
    );
  }

  /**
   * Stops every process inside the lab's nodes (SIGTERM, SIGKILL after `graceMs`) and deletes the
   * namespaces with their links, addresses and rules. Safe to call more than once.
   */
  destroy(graceMs = 1000): Promise<void> {
    this.destroying ??= (async () => {
      await Promise.all(this.linkList.map((l) => l.close().catch(() => undefined)));
      // With the processes the lab started itself: one spawned just before may still be on its way
      // into its namespace, where `ip netns pids` does not see it yet.
      await removeNamespaces(
        this.nodeList.map((n) => n.netns),
        graceMs,
        this.nodeList.flatMap((n) => n.spawnedPids),
      );
      await releaseLab(this.id);
    })();
    return this.destroying;
  }
}

/**
 * The three sites most tests and the bench's WAN scenario need: client <-> relay <-> service, the
 * relay node routing between the other two.
 */
export function threeSites(links: { clientRelay?: LinkImpairment; relayService?: LinkImpairment } = {}): Topology {
  return {
    nodes: ['client', 'relay', 'service'],
    links: [
      { a: 'client', b: 'relay', ...links.clientRelay },
      { a: 'relay', b: 'service', ...links.relayService },
    ],
  };
}
