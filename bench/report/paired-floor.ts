/** The Node floor measured beside a path (bench/scenarios/bulk.ts, option floorBeside), as it is kept in a figure. */
import type { Figure } from './model.js';

/** In a figure's detail.floor: the floor chain run to the same target right before and right after the figure's measurement. */
export interface PairedFloor {
  /** node-chain or node-chain-tls. */
  path: string;
  /** Mean of the runs, in the figure's unit (MB/s); NaN when a run had errors. */
  value: number;
  runs: number[];
  /** Bytes moved over all the runs. */
  bytes: number;
  /** CPU seconds summed over the runs, per process role (as a figure's cpuSeconds), and each role's slot. */
  cpuSeconds: Record<string, number>;
  cpuSlots: Record<string, string>;
}

export function pairedFloorOf(f: Figure): PairedFloor | undefined {
  const floor = f.detail?.floor as PairedFloor | undefined;
  return floor && typeof floor.value === 'number' && Number.isFinite(floor.value) && floor.value > 0 ? floor : undefined;
}
