/**
 * What the attacks must not disturb: a legitimate listener and sender (the client library, as a
 * user's code would run it) exchanging SHA-256-checked data on one long-lived connection and on a
 * fresh connection every second, and a health check every 50 ms. Both measure from 127.0.0.1;
 * attackers come from other loopback addresses.
 */
import { request } from 'node:http';
import { HybridConnectionClient, HybridConnectionListener, type HybridConnectionStream } from '../../../src/client/index.js';
import { patternBytes, sha256 } from '../../helpers/data.js';
import type { AttackRelay } from './relay-process.js';

export interface LegitResult {
  exchanges: number;
  freshConnections: number;
  /** Slowest round trip (ms), long-lived or fresh. */
  slowestMs: number;
  errors: string[];
}

/** Reads exactly `length` bytes from a stream (bounded by `timeoutMs`). */
function readBytes(stream: HybridConnectionStream, length: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let have = 0;
    const timer = setTimeout(() => done(new Error(`only ${have} of ${length} bytes came back within ${timeoutMs} ms`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      parts.push(chunk);
      have += chunk.length;
      if (have >= length) done();
    };
    const onEnd = () => done(new Error(`the stream ended after ${have} of ${length} bytes`));
    const done = (err?: Error) => {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', done);
      if (err) reject(err);
      else resolve(Buffer.concat(parts));
    };
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', done);
  });
}

export class LegitPair {
  private seed = 1;
  private constructor(
    private readonly listener: HybridConnectionListener,
    private readonly client: HybridConnectionClient,
    private readonly stream: HybridConnectionStream,
  ) {}

  /** An echo listener and one open connection to it on `entity`. */
  static async start(relay: AttackRelay, entity = 'legit'): Promise<LegitPair> {
    const listener = new HybridConnectionListener({ connectionString: relay.connectionString(entity) });
    listener.on('connection', (s: HybridConnectionStream) => s.on('error', () => undefined).pipe(s));
    listener.on('error', () => undefined);
    await listener.open();
    const client = new HybridConnectionClient({ connectionString: relay.connectionString(entity) });
    const stream = await client.createConnection({ retryBudgetMs: 0 });
    stream.on('error', () => undefined);
    const pair = new LegitPair(listener, client, stream);
    await pair.exchange(16 * 1024, 5000);
    return pair;
  }

  /** One round trip on the long-lived connection; resolves with its duration. */
  async exchange(size = 64 * 1024, timeoutMs = 5000): Promise<number> {
    const payload = patternBytes(size, this.seed++);
    const started = Date.now();
    const reply = readBytes(this.stream, size, timeoutMs);
    this.stream.write(payload);
    const got = await reply;
    if (got.length !== size || sha256(got) !== sha256(payload)) throw new Error(`the echo differs: ${got.length} bytes, SHA-256 ${sha256(got).slice(0, 12)}`);
    return Date.now() - started;
  }

  /** A new connection, a payload there and back (half-close), and its end. */
  async freshExchange(size = 16 * 1024, timeoutMs = 5000): Promise<number> {
    const started = Date.now();
    const stream = await this.client.createConnection({ retryBudgetMs: 0 });
    try {
      const payload = patternBytes(size, this.seed++);
      const reply = readBytes(stream, size, timeoutMs);
      stream.end(payload);
      const got = await reply;
      if (sha256(got) !== sha256(payload)) throw new Error('the echo of a fresh connection differs');
    } finally {
      stream.destroy();
    }
    return Date.now() - started;
  }

  /** Exchanges until `signal` aborts: back to back on the long-lived connection, a fresh one every second. */
  async runUntil(signal: AbortSignal): Promise<LegitResult> {
    const result: LegitResult = { exchanges: 0, freshConnections: 0, slowestMs: 0, errors: [] };
    let lastFresh = Date.now();
    while (!signal.aborted && result.errors.length < 5) {
      try {
        result.slowestMs = Math.max(result.slowestMs, await this.exchange());
        result.exchanges++;
        if (Date.now() - lastFresh >= 1000) {
          lastFresh = Date.now();
          result.slowestMs = Math.max(result.slowestMs, await this.freshExchange());
          result.freshConnections++;
        }
      } catch (err) {
        result.errors.push((err as Error).message);
        if (this.stream.destroyed) break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    return result;
  }

  async close(): Promise<void> {
    this.stream.destroy();
    await this.listener.close();
  }
}

export interface HealthResult {
  probes: number;
  slowestMs: number;
  failures: string[];
}

/**
 * Where the health probe connects from: its own address, as a load balancer's probe has. The
 * test's listeners (127.0.0.1) open a rendezvous socket per relayed request, and under the churn
 * attack the attacker's abandoned requests make them hold the per-address cap of unauthenticated
 * sockets for moments at a time (docs/security.md); a probe sharing their address was refused then.
 */
const HEALTH_PROBE_SOURCE = '127.0.0.250';

/** One GET /$hybridge/health on a new connection; resolves with its duration. */
export function healthCheck(relay: AttackRelay, timeoutMs = 3000): Promise<number> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: relay.port, localAddress: HEALTH_PROBE_SOURCE, path: '/$hybridge/health', agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve(Date.now() - started) : reject(new Error(`health answered ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error(`no health answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** Health checks every 50 ms until `signal` aborts. */
export async function probeHealthUntil(relay: AttackRelay, signal: AbortSignal): Promise<HealthResult> {
  const result: HealthResult = { probes: 0, slowestMs: 0, failures: [] };
  while (!signal.aborted) {
    try {
      result.slowestMs = Math.max(result.slowestMs, await healthCheck(relay));
    } catch (err) {
      result.failures.push((err as Error).message);
    }
    result.probes++;
    await new Promise((r) => setTimeout(r, 50));
  }
  return result;
}
