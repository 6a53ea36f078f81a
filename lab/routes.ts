/**
 * The lab's address plan and static routes. Every node has its own address on its loopback
 * (10.254.0.N/32, N = the node's number), every link its own /24 (10.0.L.0/24, L = the link's
 * number: .1 on its first node, .2 on its second). These addresses exist only inside the lab's
 * namespaces, so parallel labs can all use them. Each node routes every address it is not attached
 * to through its neighbour on a shortest path, and forwards packets (a middle node is a router).
 */

export const MAX_NODES = 250;
export const MAX_LINKS = 250;

export interface RouteNode {
  name: string;
  index: number;
}

export interface RouteLink {
  index: number;
  a: string;
  b: string;
}

export function nodeAddress(index: number): string {
  return `10.254.0.${index}`;
}

export function linkSubnet(index: number): string {
  return `10.0.${index}.0/24`;
}

export function linkAddress(index: number, side: 'a' | 'b'): string {
  return `10.0.${index}.${side === 'a' ? 1 : 2}`;
}

/** The interface a link has in `node`'s namespace: `to-<peer>`. */
export function interfaceName(peer: string): string {
  return `to-${peer}`;
}

interface Hop {
  distance: number;
  /** The link leaving the source towards this node, and the neighbour across it. */
  via?: { link: RouteLink; neighbour: string };
}

function shortestPaths(from: string, links: readonly RouteLink[]): Map<string, Hop> {
  const hops = new Map<string, Hop>([[from, { distance: 0 }]]);
  const queue = [from];
  while (queue.length) {
    const here = queue.shift()!;
    const hop = hops.get(here)!;
    for (const link of links) {
      const next = link.a === here ? link.b : link.b === here ? link.a : undefined;
      if (next === undefined || hops.has(next)) continue;
      hops.set(next, { distance: hop.distance + 1, via: hop.via ?? { link, neighbour: next } });
      queue.push(next);
    }
  }
  return hops;
}

function gateway(hop: Hop): string {
  const { link, neighbour } = hop.via!;
  return `via ${linkAddress(link.index, link.a === neighbour ? 'a' : 'b')} dev ${interfaceName(neighbour)}`;
}

/** `ip -batch` lines (route replace ...) that give `node` a route to every address it is not attached to. */
export function routeCommands(node: RouteNode, nodes: readonly RouteNode[], links: readonly RouteLink[]): string[] {
  const hops = shortestPaths(node.name, links);
  const lines: string[] = [];
  for (const other of nodes) {
    const hop = hops.get(other.name);
    if (other.name === node.name || !hop) continue;
    lines.push(`route replace ${nodeAddress(other.index)}/32 ${gateway(hop)}`);
  }
  for (const link of links) {
    if (link.a === node.name || link.b === node.name) continue;
    const ends = [hops.get(link.a), hops.get(link.b)].filter((h): h is Hop => h !== undefined);
    if (!ends.length) continue;
    const nearest = ends.reduce((x, y) => (y.distance < x.distance ? y : x));
    lines.push(`route replace ${linkSubnet(link.index)} ${gateway(nearest)}`);
  }
  return lines;
}
