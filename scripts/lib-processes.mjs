// Child processes of hybridge for the measurement scripts (mux-streams, mux-throughput): started with
// their output collected, waited on by a pattern in it, killed together at the end.
import { spawn } from 'node:child_process';
import process from 'node:process';

export const hybridgeBin = process.env.HYBRIDGE_BIN ?? new URL('../dist/src/cli/main.js', import.meta.url).pathname;
/** The node flags of the CLI's `#!/usr/bin/env -S node ...` line: it runs as a user's shell would start it. */
const { launchFlags: readLaunchFlags } = await import(new URL('../dist/bench/lib/launch-flags.js', import.meta.url).href);
const launchFlags = readLaunchFlags(hybridgeBin);

/** A group of hybridge processes sharing `home` (their HOME) and `nodeFlags`. */
export function processGroup(home, nodeFlags = []) {
  const procs = [];
  /** Starts `hybridge ...args`; `flags` are node flags of this one process. */
  function start(name, args, env = {}, flags = []) {
    const child = spawn(process.execPath, [...launchFlags, ...nodeFlags, ...flags, hybridgeBin, ...args], { env: { ...process.env, HOME: home, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const onData = (chunk) => (output += chunk.toString());
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const proc = { name, child, output: () => output };
    procs.push(proc);
    return proc;
  }
  return { procs, start };
}

/** Resolves with the match once `pattern` shows in the process's output. */
export async function waitFor(proc, pattern, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = proc.output().match(pattern);
    if (m) return m;
    if (Date.now() > deadline) throw new Error(`${proc.name}: no ${pattern} within ${timeoutMs} ms:\n${proc.output().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
