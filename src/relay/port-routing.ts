import { resolvePortName } from '../protocol/port-announcement.js';
import type { ListenerDirectory, ListenerRef, PickCriteria } from './listener-directory.js';

/**
 * Port-name-aware routing (protocol/port-announcement.ts): a sender that names its port goes to a
 * listener that announced that port, else to one that announced nothing (an azbridge listener,
 * which may serve it), and only when there is neither to one that announced other ports: that one
 * refuses the name in the stream (`00 00 FE`), so the mismatch is reported by name on both sides
 * and the sender, passing it over with DisallowedListeners, ends with the relay's 404 at once.
 * Senders that name no port, and HTTP requests, go to any listener.
 */
export interface PortWanted {
  name: string;
  /** 'serving': announced the port; 'unannounced': announced nothing; 'other': announced other ports only. */
  tier: 'serving' | 'unannounced' | 'other';
}

export function portEligible(announced: readonly string[] | undefined, want: PortWanted | undefined): boolean {
  if (!want) return true;
  if (announced === undefined) return want.tier === 'unannounced';
  const serves = resolvePortName(announced, want.name) !== undefined;
  return want.tier === 'serving' ? serves : want.tier === 'other' && !serves;
}

const TIERS: readonly PortWanted['tier'][] = ['serving', 'unannounced', 'other'];

/** The next listener for a sender of `port`, tier by tier. */
export async function pickForPort(directory: ListenerDirectory, entity: string, criteria: PickCriteria, port: string | undefined): Promise<ListenerRef | undefined> {
  if (port === undefined) return directory.pick(entity, criteria);
  for (const tier of TIERS) {
    const found = await directory.pick(entity, { ...criteria, port: { name: port, tier } });
    if (found) return found;
  }
  return undefined;
}
