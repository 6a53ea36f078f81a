/**
 * Makes sure no lab outlives its owner. Two guards per lab: an 'exit' hook (normal exit, uncaught
 * exception) that removes the lab's namespaces synchronously, and a reaper process (lab/reaper.ts,
 * in its own session) that waits for EOF on a pipe from the owner: the owner's death, even by
 * SIGKILL, closes the pipe and the reaper removes what is left. cleanStaleLabs() catches the rest.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { removeLabSync } from './namespaces.js';

const REAPER = fileURLToPath(new URL('./reaper.js', import.meta.url));

const reapers = new Map<string, ChildProcess>();
let hooked = false;

function onExit(): void {
  for (const [labId, reaper] of reapers) {
    removeLabSync(labId);
    reaper.stdin?.end();
  }
}

/** Starts guarding `labId` (call before its first namespace exists). */
export function guardLab(labId: string): void {
  if (!hooked) {
    process.on('exit', onExit);
    hooked = true;
  }
  const reaper = spawn(process.execPath, [REAPER, labId], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
  reaper.on('error', () => undefined);
  reaper.unref();
  // The pipe must not keep the owner alive: a forgotten lab still lets the process exit (and the hook clean up).
  (reaper.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  reapers.set(labId, reaper);
}

/** Stops guarding `labId` once its namespaces are gone; resolves when its reaper has exited. */
export async function releaseLab(labId: string): Promise<void> {
  const reaper = reapers.get(labId);
  reapers.delete(labId);
  if (!reaper || reaper.exitCode !== null || reaper.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => reaper.once('exit', () => resolve()));
  reaper.stdin?.end();
  const timer = setTimeout(() => reaper.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}
