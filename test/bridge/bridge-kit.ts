/**
 * Shared pieces of the bridge end-to-end tests: `hybridge bridge` processes with a clean environment,
 * echo targets (TCP, Unix, UDP) that count what they see, and clients that check every byte by
 * length and SHA-256.
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { withTimeout } from '../helpers/async.js';
import { Digest, sha256 } from '../helpers/data.js';
import { spawnHybridge, stopAll, type RunningProcess } from '../helpers/processes.js';
import type { TestRelay } from '../helpers/relay.js';
import { scratchDir } from '../helpers/scratch.js';

const resources = new Set<() => Promise<void>>();

/** Remembers a cleanup so that closeAll() (in after()) runs it even when a test failed midway. */
export function track<T extends { close(): Promise<void> }>(resource: T): T {
  const close = resource.close.bind(resource);
  let closed: Promise<void> | undefined;
  const once = () => (closed ??= close().catch(() => undefined));
  resources.add(once);
  resource.close = () => {
    resources.delete(once);
    return once();
  };
  return resource;
}

/** Closes every tracked target, client and peer that is still open (each bounded to 5 s). */
export async function closeAll(): Promise<void> {
  const pending = [...resources];
  resources.clear();
  await Promise.all(pending.map((close) => withTimeout(close(), 5000, 'cleanup').catch(() => undefined)));
}

/**
 * The end of a bridge suite, for after(): kills every spawned process, closes every tracked target,
 * client and peer, stops the relay (when it started) and removes `dirs`.
 */
export async function endBridgeSuite(relay: TestRelay | undefined, ...dirs: string[]): Promise<void> {
  await stopAll();
  await closeAll();
  await relay?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}

/** An empty HOME, so no user configuration file of the machine running the tests is read. */
const home = scratchDir('hybridge-bridge-home-');

export function bridgeEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home, ...extra };
  return env;
}

export interface BridgeOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** Output that means "ready"; default the `bridge ready` log line. */
  ready?: RegExp;
  readyTimeoutMs?: number;
}

/** Starts `hybridge bridge ...args` and waits until it is ready. */
export async function startBridge(args: string[], options: BridgeOptions = {}): Promise<RunningProcess> {
  const proc = spawnHybridge(['bridge', ...args], { env: bridgeEnv(options.env), cwd: options.cwd });
  await proc.waitForOutput(options.ready ?? /bridge ready/, options.readyTimeoutMs ?? 15_000);
  return proc;
}

/** Runs `hybridge bridge ...args` expecting it to exit; returns the code and output. */
export async function runBridgeToExit(args: string[], options: { timeoutMs?: number; cwd?: string; env?: Record<string, string> } = {}): Promise<{ code: number | string; output: string }> {
  const proc = spawnHybridge(['bridge', ...args], { env: bridgeEnv(options.env), cwd: options.cwd });
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), options.timeoutMs ?? 15_000);
  const code = await proc.exited;
  clearTimeout(timer);
  return { code, output: proc.output() };
}

/** Checks that a command exited 2 after printing exactly one line, and that the line matches `line`. */
export function assertUsageError(result: { code: number | string; output: string }, line: RegExp, name: string): void {
  const lines = result.output.split('\n').filter((l) => l.length > 0);
  assert.equal(result.code, 2, `${name}: exit code (output: ${result.output})`);
  assert.equal(lines.length, 1, `${name}: one line (output: ${result.output})`);
  assert.match(lines[0]!, line, name);
}

/** Runs `hybridge bridge` once per case `[name, args, line]`, all at once, and checks each with assertUsageError. */
export async function expectUsageErrors(cases: [string, string[], RegExp][], options: { prefix?: string[]; env?: Record<string, string> } = {}): Promise<void> {
  const results = await Promise.all(cases.map(([, args]) => runBridgeToExit([...(options.prefix ?? []), ...args], { env: options.env })));
  results.forEach((result, i) => {
    const [name, , line] = cases[i]!;
    assertUsageError(result, line, name);
  });
}

export interface TcpTarget {
  server: Server;
  port: number;
  /** Per accepted connection: the digest of what it received, once it ended. */
  received: { length: number; sha256: string }[];
  connections: number;
  close(): Promise<void>;
}

/**
 * A target that echoes everything back (half-close carried: it ends its side after the client
 * ended) and records each connection's digest. `prefix` is sent first, to tell targets apart.
 */
export async function startEchoTarget(listen: { host?: string; path?: string } = {}, prefix?: Buffer): Promise<TcpTarget> {
  const sockets = new Set<Socket>();
  const target: TcpTarget = {
    server: createServer({ allowHalfOpen: true }, (socket) => {
      target.connections++;
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
      const digest = new Digest();
      if (prefix) socket.write(prefix);
      socket.on('data', (chunk: Buffer) => digest.update(chunk));
      socket.on('end', () => target.received.push({ length: digest.length, sha256: digest.hex() }));
      socket.pipe(socket);
    }),
    port: 0,
    received: [],
    connections: 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        target.server.close(() => resolve());
      }),
  };
  track(target);
  if (listen.path) target.server.listen(listen.path);
  else target.server.listen(0, listen.host ?? '127.0.0.1');
  await once(target.server, 'listening');
  if (!listen.path) target.port = (target.server.address() as AddressInfo).port;
  return target;
}

export interface Exchange {
  length: number;
  sha256: string;
  ms: number;
}

/**
 * Connects, writes `payload`, half-closes, and reads until the other side ends: the digest of what
 * came back. Rejects on error or after `timeoutMs`.
 */
export function exchange(to: { host?: string; port?: number; path?: string; localAddress?: string }, payload: Buffer, timeoutMs = 20_000): Promise<Exchange> {
  const started = Date.now();
  return withTimeout(
    new Promise<Exchange>((resolve, reject) => {
      const socket = to.path ? connect({ path: to.path, allowHalfOpen: true }) : connect({ host: to.host ?? '127.0.0.1', port: to.port!, allowHalfOpen: true, localAddress: to.localAddress });
      const digest = new Digest();
      socket.on('data', (chunk: Buffer) => digest.update(chunk));
      socket.once('end', () => {
        socket.end();
        resolve({ length: digest.length, sha256: digest.hex(), ms: Date.now() - started });
      });
      socket.once('error', reject);
      socket.once('connect', () => writeInChunks(socket, payload).then(() => socket.end(), reject));
    }),
    timeoutMs,
    `exchange with ${to.path ?? `${to.host ?? '127.0.0.1'}:${to.port}`}`,
  );
}

/** Connects and waits for the bridge to close the connection (it could not set up the relay side). */
export function expectClosed(port: number, host = '127.0.0.1', timeoutMs = 20_000): Promise<{ received: number; ms: number }> {
  const started = Date.now();
  return withTimeout(
    new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      let received = 0;
      socket.on('data', (c: Buffer) => (received += c.length));
      socket.on('error', () => undefined);
      socket.once('close', () => resolve({ received, ms: Date.now() - started }));
      socket.once('connect', () => socket.write('hello?'));
      socket.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ECONNREFUSED') reject(err);
      });
    }),
    timeoutMs,
    `waiting for the bridge to close a connection on ${port}`,
  );
}

async function writeInChunks(socket: Socket, payload: Buffer, chunkSize = 256 * 1024): Promise<void> {
  for (let offset = 0; offset < payload.length; offset += chunkSize) {
    if (!socket.write(payload.subarray(offset, Math.min(payload.length, offset + chunkSize)))) await once(socket, 'drain');
  }
}

export function digestOf(payload: Buffer): { length: number; sha256: string } {
  return { length: payload.length, sha256: sha256(payload) };
}

export interface UdpTarget {
  socket: UdpSocket;
  port: number;
  /** Datagrams received, per sender endpoint. */
  senders: Set<string>;
  count: number;
  close(): Promise<void>;
}

/** A UDP echo target: every datagram goes back to its sender unchanged. */
export async function startUdpEcho(host = '127.0.0.1'): Promise<UdpTarget> {
  const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const target: UdpTarget = {
    socket,
    port: 0,
    senders: new Set(),
    count: 0,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
  socket.on('message', (message, from) => {
    target.count++;
    target.senders.add(`${from.address}:${from.port}`);
    socket.send(message, from.port, from.address);
  });
  socket.bind(0, host);
  await once(socket, 'listening');
  target.port = socket.address().port;
  return track(target);
}

/** A UDP client socket that collects the datagrams it receives. */
export async function udpClient(host = '127.0.0.1'): Promise<{ socket: UdpSocket; received: Buffer[]; send(payload: Buffer, port: number): void; close(): Promise<void> }> {
  const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const received: Buffer[] = [];
  socket.on('message', (m) => received.push(m));
  socket.bind(0, host);
  await once(socket, 'listening');
  return track({
    socket,
    received,
    send: (payload: Buffer, port: number) => socket.send(payload, port, host),
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  });
}
