/**
 * Shared pieces of the tunnel tests: relay-listener / relay-sender processes pointed at a test relay,
 * TCP targets (echo with half-close, a target that never answers), a hand-written SOCKS5 client,
 * and byte checks (length + SHA-256).
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, before } from 'node:test';
import { parseIPv6 } from '../../src/tunnel/socks5-protocol.js';
import { withTimeout } from '../helpers/async.js';
import { Digest, sha256 } from '../helpers/data.js';
import { spawnHybridge, stopAll, waitExit, type RunningProcess } from '../helpers/processes.js';
import { ROOT_KEY, ROOT_RULE, startRelay, type TestRelay } from '../helpers/relay.js';
import { readExactly } from '../shared/read-exactly.js';

export const KiB = 1024;
export const MiB = 1024 * 1024;

/** The environment of a tunnel process: the inherited one without tunnel settings, plus SAS keys. */
export function tunnelEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(AZTUNNEL_|HYBRIDGE_)/.test(k)) env[k] = v;
  env.AZTUNNEL_KEY_NAME = ROOT_RULE;
  env.AZTUNNEL_KEY = ROOT_KEY;
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export function relayArgs(relay: TestRelay, hyco: string): string[] {
  return ['--relay', relay.wsBase, '--hyco', hyco];
}

export async function startListener(relay: TestRelay, hyco: string, args: string[] = [], env: Record<string, string | undefined> = {}): Promise<RunningProcess> {
  const proc = spawnHybridge(['relay-listener', ...relayArgs(relay, hyco), ...args], { env: tunnelEnv(env) });
  await proc.waitForOutput(/listener online/, 15_000);
  return proc;
}

export interface LocalSender {
  proc: RunningProcess;
  port: number;
}

export async function startPortForward(relay: TestRelay, hyco: string, target: string, args: string[] = [], env: Record<string, string | undefined> = {}): Promise<LocalSender> {
  const proc = spawnHybridge(['relay-sender', 'port-forward', target, ...relayArgs(relay, hyco), '-b', '127.0.0.1:0', ...args], { env: tunnelEnv(env) });
  const m = await proc.waitForOutput(/listening on 127\.0\.0\.1:(\d+), forwarding/, 15_000);
  return { proc, port: Number(m[1]) };
}

export async function startSocks(relay: TestRelay, hyco: string, args: string[] = [], env: Record<string, string | undefined> = {}): Promise<LocalSender> {
  const proc = spawnHybridge(['relay-sender', 'socks5-proxy', ...relayArgs(relay, hyco), '-b', '127.0.0.1:0', ...args], { env: tunnelEnv(env) });
  const m = await proc.waitForOutput(/SOCKS5 proxy listening on 127\.0\.0\.1:(\d+)/, 15_000);
  return { proc, port: Number(m[1]) };
}

/** Starts `hybridge relay-sender connect <target>` (stdin and stdout piped). */
export function spawnConnect(relay: TestRelay, hyco: string, target: string): RunningProcess {
  return spawnHybridge(['relay-sender', 'connect', target, ...relayArgs(relay, hyco)], { env: tunnelEnv() });
}

/**
 * Runs `relay-sender connect <target>` with `input` on its stdin (then closed): its exit code (it is
 * killed after `timeoutMs`) and what it wrote to stdout, kept out of `proc.output()`.
 */
export async function runConnect(relay: TestRelay, hyco: string, target: string, input: Buffer, timeoutMs: number): Promise<{ proc: RunningProcess; code: number | string; stdout: Buffer }> {
  const proc = spawnConnect(relay, hyco, target);
  const chunks: Buffer[] = [];
  proc.child.stdout!.removeAllListeners('data');
  proc.child.stdout!.on('data', (c: Buffer) => chunks.push(c));
  proc.child.stdin!.end(input);
  const code = await waitExit(proc, timeoutMs);
  return { proc, code, stdout: Buffer.concat(chunks) };
}

/** Runs `relay-sender connect <target>` with an empty stdin: its exit code (killed after `timeoutMs`) and all its output. */
export async function runConnectWithoutInput(relay: TestRelay, hyco: string, target: string, timeoutMs: number): Promise<{ code: number | string; output: string }> {
  const proc = spawnConnect(relay, hyco, target);
  proc.child.stdin!.end();
  const code = await waitExit(proc, timeoutMs);
  return { code, output: proc.output() };
}

// ---------------------------------------------------------------------------------------------
// Suites

export interface TunnelSuite {
  relay: TestRelay;
  echo: TestServer;
}

/**
 * Registers the enclosing describe()'s before() and after(): before its tests, a test relay serving
 * `hycos` and a TCP echo target, handed to `use`; after them, every spawned process is killed, the
 * echo target closed and the relay stopped.
 */
export function useTunnelSuite(hycos: string[], use: (suite: TunnelSuite) => unknown): void {
  let suite: TunnelSuite;
  before(async () => {
    const relay = await startRelay({ hybridConnections: hycos });
    const echo = await echoServer();
    suite = { relay, echo };
    use(suite);
  });
  after(async () => {
    await stopAll();
    await suite.echo.close();
    await suite.relay.stop();
  });
}

// ---------------------------------------------------------------------------------------------
// Targets

export interface TestServer {
  port: number;
  /** Connections accepted so far. */
  accepted: number;
  close(): Promise<void>;
}

/** Starts a TCP server (allowHalfOpen) tracking its sockets, on `host`. */
export async function tcpServer(onConnection: (socket: Socket) => void, host = '127.0.0.1'): Promise<TestServer> {
  const sockets = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    state.accepted++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    onConnection(socket);
  });
  server.listen(0, host);
  await once(server, 'listening');
  const state: TestServer = {
    port: (server.address() as AddressInfo).port,
    accepted: 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  return state;
}

/** Echoes every byte; ends its side when the client has ended its own (half-close aware). */
export function echoServer(host = '127.0.0.1'): Promise<TestServer> {
  return tcpServer((socket) => socket.pipe(socket), host);
}

/**
 * Reads the whole request until the client half-closes, and only then answers with the SHA-256 of
 * what it got followed by `reply`: a client that shuts down its write side must still get all of it.
 */
export function answerAfterEofServer(reply: Buffer): Promise<TestServer> {
  return tcpServer((socket) => {
    const digest = new Digest();
    socket.on('data', (chunk: Buffer) => digest.update(chunk));
    socket.on('end', () => {
      socket.write(`${digest.length} ${digest.hex()}\n`);
      socket.end(reply);
    });
  });
}

/**
 * A loopback port whose connects never complete: a listening socket that never accepts, with
 * backlog 0 and its one queue slot taken, so the kernel drops further SYNs. Node's servers always
 * accept, so a tiny perl process (perl-base is part of every Debian system) holds the socket.
 */
export async function blackholePort(): Promise<{ port: number; close(): void }> {
  try {
    execFileSync('perl', ['-e', '1']);
  } catch {
    throw new Error('these tests need perl (Debian package perl-base) to hold a never-accepting socket');
  }
  const script =
    'use Socket; socket(S, PF_INET, SOCK_STREAM, 0) or die; bind(S, sockaddr_in(0, inet_aton("127.0.0.1"))) or die; listen(S, 0) or die; my ($p) = sockaddr_in(getsockname(S)); $| = 1; print "$p\\n"; sleep 120;';
  const child = spawn('perl', ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [data] = (await withTimeout(once(child.stdout!, 'data'), 5000, 'blackhole start')) as [Buffer];
  const port = Number(String(data).trim());
  const fillers: Socket[] = [];
  // The first connection fills the accept queue; wait until it is established.
  const first = createConnection({ host: '127.0.0.1', port });
  first.on('error', () => undefined);
  fillers.push(first);
  await withTimeout(once(first, 'connect'), 5000, 'blackhole filler');
  return {
    port,
    close: () => {
      for (const s of fillers) s.destroy();
      child.kill('SIGKILL');
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Clients

export interface Transfer {
  received: Buffer;
  sha256: string;
}

/** Connects, sends `payload`, half-closes, and reads until the far side ends. */
export async function roundTrip(port: number, payload: Buffer, timeoutMs = 30_000, host = '127.0.0.1'): Promise<Transfer> {
  const socket = createConnection({ host, port, allowHalfOpen: true });
  return withTimeout(exchange(socket, payload), timeoutMs, `round trip through port ${port}`);
}

/** Sends `payload` on a connected (or connecting) socket, half-closes, and reads to the end. */
export function exchange(socket: Socket, payload: Buffer): Promise<Transfer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('end', () => {
      const received = Buffer.concat(chunks);
      resolve({ received, sha256: sha256(received) });
      socket.end();
    });
    socket.once('error', reject);
    socket.resume();
    socket.end(payload);
  });
}

export type SocksAddress = { type: 'ipv4' | 'ipv6' | 'domain'; host: string; port: number };

export interface SocksResult {
  /** `05 method` from the greeting. */
  method: number;
  /** RFC 1929 status, when username/password was used. */
  authStatus?: number;
  /** REP of the CONNECT reply, when one came. */
  reply?: number;
  socket: Socket;
}

/** A SOCKS5 client written from RFC 1928/1929, to control the address type byte for byte. */
export async function socks5Connect(proxyPort: number, target: SocksAddress, auth?: { user: string; password: string }): Promise<SocksResult> {
  const socket = createConnection({ host: '127.0.0.1', port: proxyPort, allowHalfOpen: true });
  socket.on('error', () => undefined);
  await withTimeout(once(socket, 'connect'), 5000, 'connecting to the SOCKS5 proxy');
  socket.write(Buffer.from([5, 1, auth ? 2 : 0]));
  const [, method] = await readExactly(socket, 2);
  const result: SocksResult = { method: method!, socket };
  if (method === 0xff) return result;
  if (auth) {
    const user = Buffer.from(auth.user);
    const password = Buffer.from(auth.password);
    socket.write(Buffer.concat([Buffer.from([1, user.length]), user, Buffer.from([password.length]), password]));
    const [, status] = await readExactly(socket, 2);
    result.authStatus = status!;
    if (status !== 0) return result;
  }
  let address: Buffer;
  if (target.type === 'ipv4') address = Buffer.from([1, ...target.host.split('.').map(Number)]);
  else if (target.type === 'ipv6') address = Buffer.concat([Buffer.from([4]), parseIPv6(target.host)]);
  else address = Buffer.concat([Buffer.from([3, Buffer.byteLength(target.host)]), Buffer.from(target.host)]);
  const port = Buffer.alloc(2);
  port.writeUInt16BE(target.port);
  socket.write(Buffer.concat([Buffer.from([5, 1, 0]), address, port]));
  const head = await readExactly(socket, 4, 20_000);
  result.reply = head[1]!;
  const boundLength = head[3] === 1 ? 4 : head[3] === 4 ? 16 : (await readExactly(socket, 1))[0]!;
  await readExactly(socket, boundLength + 2);
  return result;
}

/** Everything `socket` sends until it ends (after its CONNECT reply), with a hash. */
export function readToEnd(socket: Socket, timeoutMs = 30_000): Promise<Transfer> {
  return withTimeout(
    new Promise<Transfer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.once('end', () => {
        const received = Buffer.concat(chunks);
        resolve({ received, sha256: sha256(received) });
      });
      socket.once('error', reject);
      socket.resume();
    }),
    timeoutMs,
    'reading to the end',
  );
}

/** Fails with the package to install when a tool the tests drive is missing. */
export function requireTool(path: string, debianPackage: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${path}`], { stdio: 'ignore' });
  } catch {
    throw new Error(`${path} is not installed; install the Debian package "${debianPackage}" (apt-get install -y ${debianPackage}) to run this test`);
  }
}
