/**
 * What the fault tests share: a relay, a relay-listener and a relay-sender port-forward on the
 * lab's three sites (client, relay, service), an echo target beside the listener, and a driver
 * at the client site that opens tunnels and probes through them (fixtures/fault-driver.ts).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { Lab, threeSites, type LabNode } from '../../lab/index.js';
import { HYBRIDGE_BIN, spawnProcess, type RunningProcess } from '../helpers/processes.js';
import { scratchDir } from '../helpers/scratch.js';

const DRIVER = fileURLToPath(new URL('./fixtures/fault-driver.js', import.meta.url));
export const RELAY_PORT = 9000;
export const ECHO_PORT = 7000;
export const HYCO = 'faults';
const KEY = 'fault-lab-key-0123456789abcdef0123456789abcdef';

export interface FaultSetup {
  lab: Lab;
  client: LabNode;
  relayNode: LabNode;
  service: LabNode;
  relay: RunningProcess;
  listener: RunningProcess;
  sender: RunningProcess;
  echo: RunningProcess;
  driver: Driver;
  stop(): Promise<void>;
}

export interface FaultOptions {
  /** One-way delay of each link (default 10 ms). */
  delayMs?: number;
  listenerArgs?: string[];
  senderArgs?: string[];
  relayArgs?: string[];
}

function inNode(node: LabNode, args: string[], env: NodeJS.ProcessEnv = {}): RunningProcess {
  const [file, wrapped] = node.wrap(process.execPath, args);
  return spawnProcess(file, wrapped, { env: { ...process.env, ...env } });
}

export async function startFaultSetup(options: FaultOptions = {}): Promise<FaultSetup> {
  const delayMs = options.delayMs ?? 10;
  const lab = await Lab.create(threeSites({ clientRelay: { delayMs }, relayService: { delayMs } }));
  const started: RunningProcess[] = [];
  const stop = async () => {
    await Promise.all(started.map((p) => p.stop('SIGTERM', 2000)));
    await lab.destroy();
  };
  try {
    const [client, relayNode, service] = [lab.node('client'), lab.node('relay'), lab.node('service')];
    const relayUrl = `ws://${relayNode.address}:${RELAY_PORT}`;
    const keyEnv = { AZTUNNEL_KEY_NAME: 'RootManageSharedAccessKey', AZTUNNEL_KEY: KEY };
    const relay = inNode(relayNode, [HYBRIDGE_BIN, 'server', '--host', relayNode.address, '--port', String(RELAY_PORT), '--hyco', HYCO, '--data', scratchDir('hyb-faults-'), '--drain-timeout', '1s', ...(options.relayArgs ?? [])], { HYBRIDGE_ROOT_KEY: KEY });
    started.push(relay);
    await relay.waitForOutput(/Created a new namespace/, 20_000);
    const echo = inNode(service, [DRIVER, 'echo', '127.0.0.1', String(ECHO_PORT)]);
    started.push(echo);
    await echo.waitForOutput(/"ready":true/, 10_000);
    const target = `127.0.0.1:${ECHO_PORT}`;
    const common = ['--relay', relayUrl, '--hyco', HYCO, '--drain-timeout', '1s'];
    const listener = inNode(service, [HYBRIDGE_BIN, 'relay-listener', ...common, '--allow', target, ...(options.listenerArgs ?? [])], keyEnv);
    started.push(listener);
    const sender = inNode(client, [HYBRIDGE_BIN, 'relay-sender', 'port-forward', target, '-b', '127.0.0.1:0', ...common, ...(options.senderArgs ?? [])], keyEnv);
    started.push(sender);
    const [, m] = await Promise.all([listener.waitForOutput(/listener online/, 20_000), sender.waitForOutput(/listening on 127\.0\.0\.1:(\d+)/, 20_000)]);
    const driverProc = inNode(client, [DRIVER, 'client', '127.0.0.1', m[1]!]);
    started.push(driverProc);
    return { lab, client, relayNode, service, relay, listener, sender, echo, driver: new Driver(driverProc.child), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

export interface Answer {
  tag: string;
  ok?: boolean;
  started?: boolean;
  done?: boolean;
  error?: string;
  startedAt?: number;
  ms?: number;
  length?: number;
  sha256?: string;
  expected?: string;
}

/** Speaks to the fault driver: one request, answers by tag. */
export class Driver {
  private sequence = 0;
  private readonly listeners = new Map<string, (answer: Answer) => void>();

  constructor(private readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let answer: Answer;
      try {
        answer = JSON.parse(line) as Answer;
      } catch {
        return;
      }
      this.listeners.get(answer.tag)?.(answer);
    });
  }

  /** Sends a command; `onAnswer` sees every answer line; resolves with the one `last` picks (the first by default). */
  send(command: Record<string, unknown>, last: (a: Answer) => boolean = () => true, onAnswer?: (a: Answer) => void, timeoutMs = 60_000): Promise<Answer> {
    const tag = `t${++this.sequence}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(tag);
        reject(new Error(`the driver did not answer ${JSON.stringify(command)} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.listeners.set(tag, (answer) => {
        onAnswer?.(answer);
        if (!last(answer)) return;
        clearTimeout(timer);
        this.listeners.delete(tag);
        resolve(answer);
      });
      this.child.stdin!.write(`${JSON.stringify({ ...command, tag })}\n`);
    });
  }

  /** `count` probes, one every `everyMs`: each one's start and duration. */
  async probes(count: number, everyMs: number, timeoutMs: number): Promise<Answer[]> {
    const results: Answer[] = [];
    await this.send({ op: 'probes', count, everyMs, timeoutMs }, (a) => a.done === true, (a) => a.done || results.push(a), count * everyMs + timeoutMs + 10_000);
    return results;
  }
}

/**
 * From when on new connections were normal again: the smallest time after `fromMs` such that,
 * of the probes started after it, all succeeded and at least 90 % within `normalMs` (a loaded
 * machine stretches a few; a channel stuck in TCP's back-off holds back many, for seconds).
 * Undefined when there is no such time.
 */
export function normalAgainAfter(probes: Answer[], fromMs: number, normalMs: number): number | undefined {
  const after = probes.filter((p) => p.startedAt! >= fromMs).sort((a, b) => a.startedAt! - b.startedAt!);
  for (let i = 0; i < after.length; i++) {
    const rest = after.slice(i);
    if (!rest.every((p) => p.ok)) continue;
    if (rest.filter((p) => p.ms! <= normalMs).length >= 0.9 * rest.length && rest[0]!.ms! <= normalMs) return rest[0]!.startedAt! - fromMs;
  }
  return undefined;
}

export interface ProcessResources {
  pid: number;
  name: string;
  fds: number;
  rssMiB: number;
}

/** The relay's, the listener's and the sender's descriptors and memory now. */
export function snapshot(s: FaultSetup): ProcessResources[] {
  return [s.relay, s.listener, s.sender].map((p, i) => ({ pid: p.child.pid!, name: ['relay', 'relay-listener', 'relay-sender'][i]!, ...resources(p.child.pid!) }));
}

/**
 * Waits (up to 20 s: closed tunnels and old control channels go within seconds) until no process
 * holds more descriptors than in `before`, then asserts it, and that RSS grew by less than 64 MiB.
 */
export async function assertNoLeaks(before: ProcessResources[], report: (line: string) => void): Promise<void> {
  const measure = () => before.map((b) => ({ ...b, ...resources(b.pid) }));
  let now = measure();
  for (let i = 0; i < 40 && now.some((n, j) => n.fds > before[j]!.fds); i++) {
    await new Promise((r) => setTimeout(r, 500));
    now = measure();
  }
  report(now.map((n, j) => `${n.name}: ${before[j]!.fds} -> ${n.fds} descriptors, RSS ${before[j]!.rssMiB.toFixed(0)} -> ${n.rssMiB.toFixed(0)} MiB`).join('; '));
  for (const [j, n] of now.entries()) {
    assert.ok(n.fds <= before[j]!.fds, `${n.name} holds ${n.fds} descriptors, ${before[j]!.fds} before`);
    assert.ok(n.rssMiB < before[j]!.rssMiB + 64, `${n.name} grew from ${before[j]!.rssMiB.toFixed(0)} to ${n.rssMiB.toFixed(0)} MiB`);
  }
}

/** Open descriptors and resident memory of a process (same pid namespace as the lab's processes). */
export function resources(pid: number): { fds: number; rssMiB: number } {
  const fds = readdirSync(`/proc/${pid}/fd`).length;
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { fds, rssMiB: Number(rss?.[1] ?? 0) / 1024 };
}
