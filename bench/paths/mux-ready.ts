/**
 * Paths whose measurement must start with every multiplexed session open (the WAN scenarios: a
 * connection made before its session is up gets a relayed connection of its own, and would be
 * measured as a cold one). The sender end then logs at info, and start() waits until it logged
 * `multiplexed session open` once per session (src/mux/mux-connector.ts).
 */
import type { Proc } from '../lib/procs.js';
import { progress } from '../lib/progress.js';

export interface MuxReadiness {
  /** Wait for every --mux session before the path counts as started. */
  awaitSessions?: boolean;
}

/** The sender's log arguments: info (session lines) when waiting for sessions, else `quiet`. */
export function senderLogArgs(mux: number, readiness: MuxReadiness | undefined, quiet: string[]): string[] {
  return mux > 0 && readiness?.awaitSessions ? ['--log-level', 'info'] : quiet;
}

/** Resolves once `sender` logged `mux` sessions open; rejects after `timeoutMs` or when it exits. */
export async function awaitMuxSessions(sender: Proc, mux: number, readiness: MuxReadiness | undefined, timeoutMs = 30_000): Promise<void> {
  if (mux <= 0 || !readiness?.awaitSessions) return;
  await sender.waitFor(new RegExp(`(?:multiplexed session open[\\s\\S]*?){${mux}}`), timeoutMs);
  progress(`   ${sender.name}: ${mux} multiplexed session${mux === 1 ? '' : 's'} open`);
}
