/**
 * Namespaces on demand, measured: a relay (in this process) creates `count` namespaces through
 * its admin API, holds them idle (memory per idle namespace: RSS and heap delta / count), uses each
 * (a hybrid connection, one listener, one sender, 16 KiB echoed and SHA-256-checked), and deletes
 * them all. The RDP seed's broker does this once per session (docs/namespaces.md).
 *
 *   node --expose-gc dist/bench/namespaces/namespace-churn.js [count]   (default 500)
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { fileURLToPath } from 'node:url';
import { HybridConnectionClient } from '../../src/client/hybrid-connection-client.js';
import { HybridConnectionListener } from '../../src/client/hybrid-connection-listener.js';
import { ManagementClient } from '../../src/client/management-client.js';
import { parseConnectionString } from '../../src/protocol/connection-string.js';
import { FileStoreBackend } from '../../src/relay/file-store-backend.js';
import { FileNamespaceCatalog } from '../../src/relay/namespaces/file-catalog.js';
import { NamespaceHost } from '../../src/relay/namespaces/namespace-host.js';
import { RelayServer } from '../../src/relay/relay-server.js';
import { silentLogger } from '../../src/util/logger.js';
import { failWith } from '../floors/script-entry.js';

const ADMIN_KEY = randomBytes(32).toString('base64');
const PAYLOAD_BYTES = 16 * 1024;

export interface NamespaceChurnFigures {
  count: number;
  createMs: { p50: number; p99: number; max: number };
  deleteMs: { p50: number; p99: number };
  /** Resident memory and JS heap per idle namespace (its store, document, broker, HTTP relay, directory view). */
  idleBytesPerNamespace: { rss: number; heap: number };
  /** Namespaces whose listener got the sender's bytes back intact. */
  used: number;
  /** Hosted namespaces left on the relay and in its data directory after the deletes. */
  left: { served: number; onDisk: number };
}

function admin(port: number, method: string, name: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path: `/$hybridge/v1/namespaces/${name}`, headers: { Authorization: `Bearer ${ADMIN_KEY}`, 'Content-Length': method === 'PUT' ? 2 : 0 }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown> }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${name} timed out`)));
    req.on('error', reject);
    req.end(method === 'PUT' ? '{}' : undefined);
  });
}

/** One admin call per name, one after the other, each timed; any other status than `expected` fails the run. */
async function timedCalls(port: number, method: string, names: string[], expected: number): Promise<{ ms: number[]; answers: Awaited<ReturnType<typeof admin>>[] }> {
  const ms: number[] = [];
  const answers: Awaited<ReturnType<typeof admin>>[] = [];
  for (const name of names) {
    const started = process.hrtime.bigint();
    const answer = await admin(port, method, name);
    ms.push(Number(process.hrtime.bigint() - started) / 1e6);
    if (answer.status !== expected) throw new Error(`${method} ${name}: HTTP ${answer.status}`);
    answers.push(answer);
  }
  return { ms, answers };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

function settle(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 3; i++) gc?.();
}

/** One listener and one sender in the namespace: 16 KiB echoed; true when the bytes came back intact. */
async function useNamespace(cs: string): Promise<boolean> {
  const { sharedAccessKeyName, sharedAccessKey, endpoint } = parseConnectionString(cs);
  await new ManagementClient({ endpoint, credential: { keyName: sharedAccessKeyName!, key: sharedAccessKey! } }).createHybridConnection('session', {});
  const listener = new HybridConnectionListener(`${cs};EntityPath=session`);
  listener.on('connection', (stream) => stream.pipe(stream));
  await listener.open();
  try {
    const payload = randomBytes(PAYLOAD_BYTES);
    const stream = await new HybridConnectionClient(cs, 'session').createConnection();
    stream.end(payload);
    const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    return digest(await buffer(stream)) === digest(payload);
  } finally {
    await listener.close();
  }
}

/** Runs the churn on a fresh relay and returns its figures. */
export async function namespaceChurn(count: number): Promise<NamespaceChurnFigures> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hybridge-ns-churn-'));
  const host = new NamespaceHost({ catalog: new FileNamespaceCatalog(dataDir), adminKey: ADMIN_KEY, maxNamespaces: count + 1, log: silentLogger() });
  const server = new RelayServer({ host: '127.0.0.1', port: 0, backend: new FileStoreBackend(dataDir), log: silentLogger(), hostedNamespaces: host });
  await server.start();
  const port = server.port;
  const names = Array.from({ length: count }, (_, i) => `session-${String(i).padStart(5, '0')}`);
  try {
    // Warm-up: the first create loads code and grows pools that every later one reuses.
    await admin(port, 'PUT', 'warm-up-ns');
    await admin(port, 'DELETE', 'warm-up-ns');
    settle();
    const before = process.memoryUsage();
    const { ms: createMs, answers } = await timedCalls(port, 'PUT', names, 201);
    const connectionStrings = answers.map((a) => String(a.body.rootConnectionString));
    settle();
    const idle = process.memoryUsage();
    let used = 0;
    for (const cs of connectionStrings) if (await useNamespace(cs)) used++;
    const { ms: deleteMs } = await timedCalls(port, 'DELETE', names, 200);
    createMs.sort((a, b) => a - b);
    deleteMs.sort((a, b) => a - b);
    let onDisk = 0;
    try {
      onDisk = readdirSync(join(dataDir, 'namespaces')).length;
    } catch {
      onDisk = 0;
    }
    return {
      count,
      createMs: { p50: round(percentile(createMs, 50)), p99: round(percentile(createMs, 99)), max: round(createMs[createMs.length - 1]!) },
      deleteMs: { p50: round(percentile(deleteMs, 50)), p99: round(percentile(deleteMs, 99)) },
      idleBytesPerNamespace: { rss: Math.round((idle.rss - before.rss) / count), heap: Math.round((idle.heapUsed - before.heapUsed) / count) },
      used,
      left: { served: server.namespaces.size - 1, onDisk },
    };
  } finally {
    await server.stop(0);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const count = process.argv[2] === undefined ? 500 : Number(process.argv[2]);
  if (!Number.isInteger(count) || count < 1 || count > 10_000) failWith('namespace-churn')(new Error('the namespace count must be a whole number from 1 to 10000'));
  namespaceChurn(count).then((figures) => console.log(JSON.stringify(figures, null, 2)), failWith('namespace-churn'));
}
