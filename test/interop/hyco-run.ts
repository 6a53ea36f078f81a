/**
 * Runs hyco-peer.ts in a child process. With a `ca`, the PEM goes to a temporary file named by
 * NODE_EXTRA_CA_CERTS, the only way hyco-ws and hyco-https can be made to trust a test relay.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnProcess, waitExit, type RunningProcess } from '../helpers/processes.js';
import type { TestRelay } from '../helpers/relay.js';
import { ROOT_KEY, ROOT_RULE } from '../helpers/relay.js';
import type { PeerBase, PeerTask } from './hyco-types.js';

const PEER_SCRIPT = fileURLToPath(new URL('./hyco-peer.js', import.meta.url));

/** The connection facts every task needs, for a relay from startRelay(). */
export function peerBase(relay: TestRelay, entity: string, timeoutMs: number): PeerBase {
  return { wsBase: relay.wsBase, httpBase: relay.httpBase, entity, keyName: ROOT_RULE, key: ROOT_KEY, timeoutMs };
}

function childEnv(ca: string | undefined, cleanup: (() => void)[]): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  delete env.NODE_TLS_REJECT_UNAUTHORIZED;
  // The test runner's own flags (e.g. --test) must not leak into the child.
  delete env.NODE_OPTIONS;
  if (ca !== undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'hybridge-ca-'));
    const file = join(dir, 'relay-ca.pem');
    writeFileSync(file, ca);
    env.NODE_EXTRA_CA_CERTS = file;
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  }
  return env;
}

/** Starts the peer; the caller owns the process (stop it in `finally`). */
export function startHycoPeer(task: PeerTask, ca?: string): RunningProcess & { cleanup(): void } {
  const cleanup: (() => void)[] = [];
  const env = childEnv(ca, cleanup);
  const proc = spawnProcess(process.execPath, [PEER_SCRIPT, Buffer.from(JSON.stringify(task)).toString('base64')], { env });
  return Object.assign(proc, { cleanup: () => cleanup.splice(0).forEach((f) => f()) });
}

/** Runs a task to completion and returns its RESULT object (throws with the child's output if it failed). */
export async function runHycoPeer<T>(task: PeerTask, ca?: string): Promise<T> {
  const proc = startHycoPeer(task, ca);
  try {
    const code = await waitExit(proc, task.timeoutMs + 5000);
    const line = proc
      .output()
      .split('\n')
      .find((l) => l.startsWith('RESULT '));
    if (!line) throw new Error(`hyco peer exited with ${code} and no result; output:\n${proc.output()}`);
    const result = JSON.parse(line.slice('RESULT '.length)) as T & { error?: string };
    if (result.error !== undefined) throw new Error(`hyco peer failed: ${result.error}\noutput:\n${proc.output()}`);
    return result;
  } finally {
    await proc.stop('SIGKILL', 1000);
    proc.cleanup();
  }
}
