import type { HttpRemoteBinding, RemoteBinding } from '../config/index.js';

export type StreamTarget = Exclude<RemoteBinding, HttpRemoteBinding>;

/**
 * The targets one relay serves, by logical port name (reference/azbridge.md §1.6): exact,
 * case-sensitive names; when the relay has exactly one port name and the requested name is a number,
 * that port serves it (azbridge PR #55: `-L 13389:relay` with `-T relay:3389`). HTTP bindings (-H) take
 * no stream connections and do not count. Several bindings that share a name take turns (round robin).
 */
export class PortTable {
  private readonly byName = new Map<string, StreamTarget[]>();
  private readonly turn = new Map<string, number>();

  constructor(bindings: readonly RemoteBinding[]) {
    for (const binding of bindings) {
      if (binding.kind === 'http') continue;
      const list = this.byName.get(binding.portName);
      if (list) list.push(binding);
      else this.byName.set(binding.portName, [binding]);
    }
  }

  /** Port names this relay serves, in definition order. */
  get names(): string[] {
    return [...this.byName.keys()];
  }

  get isEmpty(): boolean {
    return this.byName.size === 0;
  }

  /** The targets for `portName` (all of them, in turn order), or undefined when none matches. */
  lookup(portName: string): { name: string; targets: StreamTarget[] } | undefined {
    let name = portName;
    if (!this.byName.has(name)) {
      if (this.byName.size !== 1 || !/^\d+$/.test(portName)) return undefined;
      name = this.names[0]!;
    }
    const targets = this.byName.get(name)!;
    const start = this.turn.get(name) ?? 0;
    this.turn.set(name, (start + 1) % targets.length);
    return { name, targets: [...targets.slice(start), ...targets.slice(0, start)] };
  }
}
