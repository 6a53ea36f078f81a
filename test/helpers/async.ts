import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Writable } from 'node:stream';

/** Rejects when `promise` takes longer than `ms`. Every wait in the tests goes through a bound like this. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what = 'operation'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every `intervalMs` until it returns truthy, for at most `timeoutMs`. */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs: number, what = 'condition', intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await delay(intervalMs);
  }
}

/** A free TCP port on 127.0.0.1 (bound and released; good enough for tests that bind right after). */
export { freeTcpPort as freePort } from '../../src/util/free-port.js';

/** Starts a TCP server on loopback and returns it with its port; sockets are tracked for cleanup. */
export async function listenTcp(onConnection: (socket: Socket) => void, host = '127.0.0.1'): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    onConnection(socket);
  });
  server.listen(0, host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Reads a socket to its end, returning everything. */
export function readAll(socket: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks)));
    socket.on('error', reject);
  });
}

/** Resolves on 'drain'; rejects when the stream closes or fails first. Leaves no listeners behind. */
export function drained(stream: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      stream.off('drain', onDrain);
      stream.off('close', onClose);
      stream.off('error', onError);
      if (error) reject(error);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(new Error('stream closed while writing'));
    const onError = (err: Error) => done(err);
    stream.on('drain', onDrain);
    stream.on('close', onClose);
    stream.on('error', onError);
  });
}

/** Resolves on 'drain' or when the stream closes, whichever comes first (at once if it is already destroyed). Leaves no listeners behind. */
export function drainOrClose(stream: Writable): Promise<void> {
  if (stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.once('drain', done);
    stream.once('close', done);
  });
}

/**
 * `count` different ports that are free on 127.0.0.1 now and lie below the kernel's ephemeral range,
 * so that no outgoing connection of any process takes one of them as its source port before the
 * caller listens there (a port from freePort() is in that range: held for seconds, one was taken so
 * in a clean-clone run). Drawn at random from the 12,000 ports under the range; bounded in tries.
 */
export async function distinctFreePortsBelowEphemeral(count: number): Promise<number[]> {
  const low = ephemeralRangeStart();
  const first = Math.max(1024, low - 12_000);
  const ports = new Set<number>();
  for (let tries = 0; ports.size < count && tries < count * 50; tries++) {
    const port = first + Math.floor(Math.random() * (low - first));
    if (!ports.has(port) && (await isFreeOnLoopback(port))) ports.add(port);
  }
  if (ports.size < count) throw new Error(`could not find ${count} distinct free ports below ${low}`);
  return [...ports];
}

/** The first port of /proc/sys/net/ipv4/ip_local_port_range (Linux's default is 32768). */
export function ephemeralRangeStart(): number {
  const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  return Number.isInteger(low) && low > 1024 ? low : 32768;
}

function isFreeOnLoopback(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
