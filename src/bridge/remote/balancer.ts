import type { BalanceMode } from '../config/index.js';

/** What the balancer needs to know about a pool member. */
export interface Balanced {
  /** Connections open to the member, counting dials in progress. */
  readonly active: number;
}

/**
 * Chooses the member for a new connection among the eligible ones.
 *
 * - round-robin: members take turns in definition order; an ineligible member loses its turn.
 * - least-connections: the member with the fewest open connections; ties go to the member whose
 *   turn it would be, so equal members still alternate.
 */
export class Balancer {
  private cursor = 0;

  constructor(readonly mode: BalanceMode) {}

  pick<M extends Balanced>(members: readonly M[], eligible: (member: M) => boolean): M | undefined {
    const n = members.length;
    let best: number | undefined;
    for (let i = 0; i < n; i++) {
      const index = (this.cursor + i) % n;
      const member = members[index]!;
      if (!eligible(member)) continue;
      if (this.mode === 'round-robin') {
        best = index;
        break;
      }
      if (best === undefined || member.active < members[best]!.active) best = index;
    }
    if (best === undefined) return undefined;
    this.cursor = (best + 1) % n;
    return members[best];
  }
}
