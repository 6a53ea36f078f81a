/**
 * `hybridge server` as the attack suite runs it: a real process on 127.0.0.1, under the open-file
 * limit a service typically gets (ulimit -n 1024), with a namespace written before it starts (so
 * that thousands of hybrid connections cost nothing to set up). RSS and open descriptors are read
 * from /proc; what it holds after full garbage collections through a probe preloaded into it.
 *
 * HYBRIDGE_ATTACK_BIN=/path/to/dist/src/cli/main.js runs the suite against another build (for
 * instance main's, to see which attacks it falls to); the limit-tuning flags of each attack are then
 * left out, since that build may not know them, and it runs with its own defaults.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSasToken } from '../../../src/protocol/sas-token.js';
import { newRule, ROOT_RULE_NAME, type AccessRight, type HybridConnection, type NamespaceDocument } from '../../../src/relay/namespace-model.js';
import { liveHeapBytes, liveHeapNodeFlags } from '../../helpers/live-heap.js';
import { HYBRIDGE_BIN, spawnProcess, type RunningProcess } from '../../helpers/processes.js';

export const ROOT_KEY = 'attack-suite-root-key-0123456789';

export interface HycoSpec {
  name: string;
  /** Senders need no token (requiresClientAuthorization false). */
  anonymous?: boolean;
  rules?: { keyName: string; key: string; rights: AccessRight[] }[];
}

export interface AttackRelayOptions {
  hycos: HycoSpec[];
  /** Flags the relay gets in every run. */
  args?: string[];
  /** Flags that tune limits for a short test (left out for a foreign build, see above). */
  limitArgs?: string[];
  /** ulimit -n for the relay process. */
  openFiles?: number;
}

export class AttackRelay {
  private constructor(
    readonly proc: RunningProcess,
    readonly port: number,
    private readonly dataDir: string,
  ) {}

  static async start(options: AttackRelayOptions): Promise<AttackRelay> {
    const dataDir = mkdtempSync(join(tmpdir(), 'hybridge-attack-'));
    writeFileSync(join(dataDir, 'namespace.json'), JSON.stringify(namespaceDocument(options.hycos)), { mode: 0o600 });
    const foreign = process.env.HYBRIDGE_ATTACK_BIN;
    const bin = foreign ?? HYBRIDGE_BIN;
    const args = ['server', '--host', '127.0.0.1', '--port', '0', '--data', dataDir, '--log-format', 'json', ...(options.args ?? []), ...(foreign ? [] : (options.limitArgs ?? []))];
    // exec keeps the pid: the limit and the /proc readings are the relay's own.
    const proc = spawnProcess('/bin/sh', ['-c', `ulimit -n ${options.openFiles ?? 1024} && exec "$0" "$@"`, process.execPath, ...liveHeapNodeFlags(), bin, ...args]);
    try {
      const match = await proc.waitForOutput(/"url":"ws:\/\/127\.0\.0\.1:(\d+)"/, 15_000);
      return new AttackRelay(proc, Number(match[1]), dataDir);
    } catch (err) {
      await proc.stop('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
      throw err;
    }
  }

  get pid(): number {
    return this.proc.child.pid!;
  }

  get alive(): boolean {
    return this.proc.child.exitCode === null && this.proc.child.signalCode === null;
  }

  get wsBase(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  get httpBase(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  connectionString(entity: string, keyName = ROOT_RULE_NAME, key = ROOT_KEY): string {
    return `Endpoint=ws://127.0.0.1:${this.port}/;SharedAccessKeyName=${keyName};SharedAccessKey=${key};EntityPath=${entity}`;
  }

  token(entity: string, keyName = ROOT_RULE_NAME, key = ROOT_KEY): string {
    return createSasToken(`http://127.0.0.1:${this.port}/${entity}`, keyName, key, Math.floor(Date.now() / 1000) + 3600);
  }

  /** Resident set size in bytes (VmRSS). */
  rssBytes(): number {
    const line = readFileSync(`/proc/${this.pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('VmRSS:'));
    return Number(/(\d+)/.exec(line ?? '')?.[1] ?? 0) * 1024;
  }

  /** Bytes still reachable in the relay after full garbage collections (test/helpers/live-heap.ts). */
  liveHeapBytes(): Promise<number> {
    return liveHeapBytes(this.proc);
  }

  /** Open file descriptors. */
  openFds(): number {
    return readdirSync(`/proc/${this.pid}/fd`).length;
  }

  /** What the relay logged (JSON lines). */
  logLines(): Record<string, unknown>[] {
    return this.proc
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  async stop(): Promise<void> {
    await this.proc.stop('SIGTERM', 5000);
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

function namespaceDocument(hycos: HycoSpec[]): NamespaceDocument {
  const now = new Date().toISOString();
  const entity = (spec: HycoSpec): HybridConnection => ({
    name: spec.name,
    requiresClientAuthorization: !spec.anonymous,
    userMetadata: '',
    createdAt: now,
    updatedAt: now,
    authorizationRules: (spec.rules ?? []).map((r) => newRule(r.keyName, r.rights, r.key, now)),
  });
  return { formatVersion: 1, createdAt: now, authorizationRules: [newRule(ROOT_RULE_NAME, ['Listen', 'Send', 'Manage'], ROOT_KEY, now)], hybridConnections: hycos.map(entity) };
}
