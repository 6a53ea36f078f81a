/**
 * Shared pieces of the client-library tests: listeners and clients pointed at a test relay,
 * stream digests, bounded writes and reads, and a cleanup list that every test empties in
 * `after`/`finally`.
 */
import assert from 'node:assert/strict';
import type { Readable, Writable } from 'node:stream';
import { HybridConnectionClient, HybridConnectionListener, type HybridConnectionOptions, type HybridConnectionStream, type ListenerOptions } from '../../src/client/index.js';
import { drained, withTimeout } from '../helpers/async.js';
import { sha256 } from '../helpers/data.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { digestOf } from '../shared/stream-digest.js';

export { drained, digestOf };
export type { StreamDigest } from '../shared/stream-digest.js';

export const KiB = 1024;
export const MiB = 1024 * 1024;

/** Root-key options for `entity` on `relay`, trusting its certificate when it has one. */
export function relayOptions(relay: TestRelay, entity: string): HybridConnectionOptions {
  return { connectionString: relay.connectionString(entity), ...(relay.ca ? { tls: { ca: relay.ca } } : {}) };
}

export function listenerFor(relay: TestRelay, entity: string, options: Partial<ListenerOptions> = {}): HybridConnectionListener {
  return new HybridConnectionListener({ ...relayOptions(relay, entity), ...options });
}

export function clientFor(relay: TestRelay, entity: string, options: Partial<HybridConnectionOptions> = {}): HybridConnectionClient {
  return new HybridConnectionClient({ ...relayOptions(relay, entity), ...options });
}

/** For before(): a test relay serving `entity` and an open listener on it, both stopped by `cleanup`. */
export async function relayWithListener(cleanup: Cleanup, entity: string): Promise<{ relay: TestRelay; listener: HybridConnectionListener }> {
  const relay = cleanup.add(await startRelay({ hybridConnections: [entity] }), (r) => r.stop());
  const listener = cleanup.listener(listenerFor(relay, entity));
  await listener.open();
  return { relay, listener };
}

/** Writes `payload` in `chunkSize` pieces, waiting for 'drain' when asked to; optionally ends. */
export async function writeAll(stream: Writable, payload: Buffer, options: { chunkSize?: number; end?: boolean; timeoutMs?: number } = {}): Promise<void> {
  const chunkSize = options.chunkSize ?? 256 * KiB;
  const work = async () => {
    for (let offset = 0; offset < payload.length; offset += chunkSize) {
      if (stream.destroyed) throw new Error('stream destroyed while writing');
      if (!stream.write(payload.subarray(offset, Math.min(payload.length, offset + chunkSize)))) await drained(stream);
    }
    if (options.end !== false) {
      await new Promise<void>((resolve, reject) => {
        stream.end(() => resolve());
        stream.once('error', reject);
      });
    }
  };
  await withTimeout(work(), options.timeoutMs ?? 30_000, 'stream write');
}

/** Writes `payload` on `from` and ends it; checks that `to` reads exactly those bytes, to its end. */
export async function assertDelivered(from: Writable, to: Readable, payload: Buffer): Promise<void> {
  const got = digestOf(to);
  await writeAll(from, payload);
  assert.deepEqual(await got, { length: payload.length, sha256: sha256(payload) });
}

/** Resolves once `stream` has emitted 'close' (at once if it already has), bounded. */
export function whenClosed(stream: Readable | Writable, timeoutMs = 10_000, what = 'stream close'): Promise<void> {
  if (stream.closed) return Promise.resolve();
  return withTimeout(new Promise<void>((resolve) => stream.once('close', () => resolve())), timeoutMs, what);
}

/** The next accepted connection, bounded. */
export async function nextConnection(listener: HybridConnectionListener, timeoutMs = 10_000): Promise<HybridConnectionStream> {
  const stream = await withTimeout(listener.acceptConnection(), timeoutMs, 'acceptConnection');
  if (!stream) throw new Error('the listener closed before a connection arrived');
  return stream;
}

export interface ListenerEvent {
  event: 'connecting' | 'online' | 'offline' | 'error' | 'stalled';
  at: number;
  error?: Error;
}

/** Records a listener's lifecycle events (and keeps 'error' from being unhandled). */
export function recordEvents(listener: HybridConnectionListener): ListenerEvent[] {
  const events: ListenerEvent[] = [];
  listener.on('connecting', () => events.push({ event: 'connecting', at: Date.now() }));
  listener.on('online', () => events.push({ event: 'online', at: Date.now() }));
  listener.on('offline', (error) => events.push({ event: 'offline', at: Date.now(), ...(error ? { error } : {}) }));
  listener.on('error', (error) => events.push({ event: 'error', at: Date.now(), error }));
  listener.on('stalled', () => events.push({ event: 'stalled', at: Date.now() }));
  return events;
}

export function count(events: ListenerEvent[], event: ListenerEvent['event']): number {
  return events.filter((e) => e.event === event).length;
}

/** Things to stop at the end of a test or suite, run last-in first-out; errors are collected, not thrown midway. */
export class Cleanup {
  private readonly tasks: (() => unknown)[] = [];

  add<T>(value: T, stop: (value: T) => unknown): T {
    this.tasks.push(() => stop(value));
    return value;
  }

  listener(listener: HybridConnectionListener): HybridConnectionListener {
    return this.add(listener, (l) => withTimeout(l.close(), 10_000, 'listener close'));
  }

  stream<T extends { destroy(): unknown }>(stream: T): T {
    return this.add(stream, (s) => s.destroy());
  }

  async run(): Promise<void> {
    const errors: unknown[] = [];
    for (const task of this.tasks.splice(0).reverse()) {
      try {
        await task();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw errors[0];
  }
}
