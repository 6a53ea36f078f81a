/**
 * Shared pieces of the pool tests: echo targets that learn which client connection they serve (the
 * client writes its connection number first), clients that trickle a payload and check every byte
 * that comes back, and a steady load of such connections.
 */
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { track } from '../bridge-kit.js';
import { delay, drainOrClose, withTimeout } from '../../helpers/async.js';
import { Digest, patternBytes, sha256 } from '../../helpers/data.js';

export interface TaggedTarget {
  readonly name: string;
  port: number;
  /** Client connection numbers this target served (connections that sent at least 4 bytes). */
  readonly ids: Set<number>;
  /** Connections that closed without sending anything (health-check probes). */
  probes: number;
  /** Connections open right now that carry data. */
  readonly open: Set<Socket>;
  /**
   * Stops listening (new connections are refused). With `cut` (the default) open connections are
   * cut too, as when the server process dies; without it they finish.
   */
  stop(options?: { cut?: boolean }): Promise<void>;
  /** Listens again on the same port. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** An echo target (half-close carried) that records the connection number in each connection's first 4 bytes. */
export async function startTaggedEcho(name: string): Promise<TaggedTarget> {
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  const target: TaggedTarget = {
    name,
    port: 0,
    ids: new Set(),
    probes: 0,
    open: new Set(),
    stop: async ({ cut = true } = {}) => {
      const s = server;
      server = undefined;
      if (cut) for (const socket of sockets) socket.destroy();
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
    restart: async () => {
      if (server) return;
      server = createServer({ allowHalfOpen: true }, serve);
      server.listen(target.port, '127.0.0.1');
      await once(server, 'listening');
      target.port = (server.address() as AddressInfo).port;
    },
    close: () => target.stop({ cut: true }),
  };
  function serve(socket: Socket): void {
    sockets.add(socket);
    let head = Buffer.alloc(0);
    let received = 0;
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (head.length < 4) {
        head = Buffer.concat([head, chunk]);
        if (head.length >= 4) {
          target.ids.add(head.readUInt32BE(0));
          target.open.add(socket);
        }
      }
    });
    socket.on('close', () => {
      sockets.delete(socket);
      target.open.delete(socket);
      if (received === 0) target.probes++;
    });
    socket.pipe(socket);
  }
  await target.restart();
  return track(target);
}

/** `size` bytes unique to connection `id`, starting with the id (big-endian uint32). */
export function taggedPayload(id: number, size: number): Buffer {
  const payload = Buffer.from(patternBytes(size, 5000 + id));
  payload.writeUInt32BE(id, 0);
  return payload;
}

export interface ClientResult {
  id: number;
  /** The client's local port, as the -L bridge logs it (client=127.0.0.1:PORT). */
  localPort?: number;
  startedAt: number;
  endedAt: number;
  ok: boolean;
  error?: string;
}

export interface TrickleOptions {
  /** The payload goes out in this many pieces... */
  pieces?: number;
  /** ...this far apart, so that connections overlap. */
  gapMs?: number;
  timeoutMs?: number;
}

/**
 * One client connection: sends the tagged payload in pieces, half-closes, reads the echo to its end
 * and compares length and SHA-256. Never rejects: the outcome is in the result.
 */
export async function trickleExchange(port: number, id: number, size: number, options: TrickleOptions = {}): Promise<ClientResult> {
  const startedAt = Date.now();
  const payload = taggedPayload(id, size);
  const pieces = options.pieces ?? 8;
  const gapMs = options.gapMs ?? 25;
  const digest = new Digest();
  let localPort: number | undefined;
  const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  socket.on('error', () => undefined);
  socket.on('data', (chunk: Buffer) => digest.update(chunk));
  const ended = new Promise<void>((resolve, reject) => {
    socket.once('end', () => resolve());
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('closed before the end of the echo')));
  });
  ended.catch(() => undefined);
  try {
    await withTimeout(once(socket, 'connect'), 5000, 'connect');
    localPort = socket.localPort;
    const step = Math.ceil(size / pieces);
    for (let offset = 0; offset < size; offset += step) {
      if (socket.destroyed) break;
      if (!socket.write(payload.subarray(offset, Math.min(size, offset + step)))) await drainOrClose(socket);
      await delay(gapMs);
    }
    socket.end();
    await withTimeout(ended, options.timeoutMs ?? 20_000, `echo of connection ${id}`);
    const got = { length: digest.length, sha256: digest.hex() };
    const ok = got.length === size && got.sha256 === sha256(payload);
    return { id, localPort, startedAt, endedAt: Date.now(), ok, ...(ok ? {} : { error: `echo differs: ${got.length} bytes, expected ${size}` }) };
  } catch (err) {
    return { id, localPort, startedAt, endedAt: Date.now(), ok: false, error: (err as Error).message };
  } finally {
    socket.destroy();
  }
}

export interface LoadOptions extends TrickleOptions {
  port: number;
  /** New connections per second. */
  rate: number;
  durationMs: number;
  size: number;
  firstId?: number;
  /** Called once, `atMs` after the start, while the load runs (a listener killed mid-run). */
  during?: { atMs: number; run: () => Promise<void> };
}

/** A steady stream of new client connections; resolves when every one of them has finished. */
export async function runLoad(options: LoadOptions): Promise<ClientResult[]> {
  const started = Date.now();
  const running: Promise<ClientResult>[] = [];
  const count = Math.round((options.durationMs / 1000) * options.rate);
  const interval = 1000 / options.rate;
  let event: Promise<void> | undefined;
  for (let i = 0; i < count; i++) {
    const due = started + i * interval;
    if (options.during && !event && due - started >= options.during.atMs) event = options.during.run();
    const wait = due - Date.now();
    if (wait > 0) await delay(wait);
    running.push(trickleExchange(options.port, (options.firstId ?? 0) + i, options.size, options));
  }
  await event;
  return Promise.all(running);
}

export interface HeldConnection {
  id: number;
  /** Sends the rest of the payload, half-closes and checks the whole echo. */
  finish(): Promise<ClientResult>;
}

/**
 * A connection that stays open: sends its first 4 KiB (with the connection number) and waits until
 * `seenBy` reports the number, then holds until finish().
 */
export async function holdConnection(port: number, id: number, seenBy: () => boolean, size = 16 * 1024): Promise<HeldConnection> {
  const startedAt = Date.now();
  const payload = taggedPayload(id, size);
  const digest = new Digest();
  const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  socket.on('error', () => undefined);
  socket.on('data', (chunk: Buffer) => digest.update(chunk));
  const ended = new Promise<void>((resolve, reject) => {
    socket.once('end', () => resolve());
    socket.once('close', () => reject(new Error('closed before the end of the echo')));
  });
  ended.catch(() => undefined);
  await withTimeout(once(socket, 'connect'), 5000, 'connect');
  socket.write(payload.subarray(0, 4096));
  const deadline = Date.now() + 10_000;
  while (!seenBy()) {
    if (Date.now() > deadline) throw new Error(`connection ${id} did not reach a target`);
    await delay(10);
  }
  return {
    id,
    finish: async () => {
      try {
        socket.end(payload.subarray(4096));
        await withTimeout(ended, 10_000, `echo of held connection ${id}`);
        const ok = digest.length === size && digest.hex() === sha256(payload);
        return { id, startedAt, endedAt: Date.now(), ok, ...(ok ? {} : { error: `echo differs: ${digest.length} bytes` }) };
      } catch (err) {
        return { id, startedAt, endedAt: Date.now(), ok: false, error: (err as Error).message };
      } finally {
        socket.destroy();
      }
    },
  };
}
