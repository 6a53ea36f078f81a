import { resolvePortName } from '../protocol/port-announcement.js';
import type { ListenerDirectory, ListenerRef, PickCriteria } from './listener-directory.js';

/**
 * Port-name-aware routing (protocol/port-announcement.ts): a sender that names its port goes to a
 * listener that announced that port, else to one that announced nothing (an azbridge listener,
 * which may serve it), never to one that announced other ports only. Senders that name no port,
 * and HTTP requests, go to any listener.
 */
export interface PortWanted {
  name: string;
  /** 'serving': listeners that announced the port; 'unannounced': listeners that announced nothing. */
  tier: 'serving' | 'unannounced';
}

export function portEligible(announced: readonly string[] | undefined, want: PortWanted | undefined): boolean {
  if (!want) return true;
  if (announced === undefined) return want.tier === 'unannounced';
  return want.tier === 'serving' && resolvePortName(announced, want.name) !== undefined;
}

/** The next listener for a sender of `port`: those serving it first, then those that announced nothing. */
export async function pickForPort(directory: ListenerDirectory, entity: string, criteria: PickCriteria, port: string | undefined): Promise<ListenerRef | undefined> {
  if (port === undefined) return directory.pick(entity, criteria);
  const serving = await directory.pick(entity, { ...criteria, port: { name: port, tier: 'serving' } });
  return serving ?? directory.pick(entity, { ...criteria, port: { name: port, tier: 'unannounced' } });
}
