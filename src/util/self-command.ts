import { fileURLToPath } from 'node:url';

/** Set to true by the single-executable build (scripts/build-sea.mjs): the executable is the CLI. */
declare const __HYBRIDGE_SEA__: boolean | undefined;

export function isSingleExecutable(): boolean {
  return typeof __HYBRIDGE_SEA__ !== 'undefined' && __HYBRIDGE_SEA__;
}

/**
 * How to start another `hybridge` process (the demo runs each end as its own process): this Node
 * with the CLI script, or, in the single executable, the executable itself.
 */
export function hybridgeCommand(): { command: string; args: string[] } {
  if (isSingleExecutable()) return { command: process.execPath, args: [] };
  return { command: process.execPath, args: [fileURLToPath(new URL('../cli/main.js', import.meta.url))] };
}
