/**
 * What one open connection costs a bare Node server, plain TCP against TLS, with no hybridge code
 * involved: the floor under the relay's memory per connection (the relay holds two legs, sender and
 * listener, for every relayed connection). Each server runs in a fresh process; its clients run in
 * another, each sends 1 KiB and waits for the echo, then all stay open while the server's resident
 * memory is read.
 *
 *   node dist/bench/floors/connection-memory.js [connections]   (default 2000)
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createServer as createTcpServer, connect as tcpConnect, type AddressInfo, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { connect as tlsConnect, createSecureContext, createServer as createTlsServer } from 'node:tls';
import { generateSelfSignedCertificate } from '../../src/relay/self-signed.js';
import { connectionCount, failWith } from './script-entry.js';

type Transport = 'tcp' | 'tls';
const SELF = fileURLToPath(import.meta.url);
const MESSAGE = Buffer.alloc(1024, 0x61);
const SETTLE_MS = 500;

interface ServerReport {
  transport: Transport;
  connections: number;
  kibPerConnection: number;
}

function echo(socket: Socket): void {
  socket.on('error', () => undefined);
  socket.on('data', (chunk: Buffer) => socket.write(chunk));
}

/** Child: opens `count` connections one after the other, each echoing 1 KiB, then holds them. */
async function runClients(transport: Transport, port: number, count: number, ca: string): Promise<void> {
  const context = transport === 'tls' ? createSecureContext({ ca }) : undefined;
  const held: Socket[] = [];
  for (let i = 0; i < count; i++) {
    const socket = context ? tlsConnect({ host: '127.0.0.1', port, secureContext: context }) : tcpConnect(port, '127.0.0.1');
    await once(socket, context ? 'secureConnect' : 'connect');
    socket.write(MESSAGE);
    let received = 0;
    while (received < MESSAGE.length) received += ((await once(socket, 'data')) as [Buffer])[0].length;
    held.push(socket);
  }
  process.send?.('ready');
  process.on('disconnect', () => process.exit(0));
}

/** Child: one server, measured before and after its clients connected. */
async function runServer(transport: Transport, count: number): Promise<void> {
  const cert = generateSelfSignedCertificate(['127.0.0.1']);
  const server: Server = transport === 'tls' ? createTlsServer({ cert: cert.cert, key: cert.key }, echo) : createTcpServer(echo);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  const before = process.memoryUsage().rss;
  const port = (server.address() as AddressInfo).port;
  const clients = fork(SELF, ['clients', transport, String(port), String(count), cert.cert], { stdio: 'inherit' });
  try {
    const [message] = (await Promise.race([once(clients, 'message'), once(clients, 'exit').then(() => ['exit'])])) as [string];
    if (message !== 'ready') throw new Error('the clients stopped before all connections were open');
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const after = process.memoryUsage().rss;
    const report: ServerReport = { transport, connections: count, kibPerConnection: (after - before) / count / 1024 };
    await new Promise<void>((resolve) => process.send?.(report, () => resolve()));
  } finally {
    clients.kill();
    server.close();
  }
}

async function main(count: number): Promise<void> {
  const reports: ServerReport[] = [];
  for (const transport of ['tcp', 'tls'] as const) {
    const child = fork(SELF, ['server', transport, String(count)], { stdio: 'inherit' });
    let report: ServerReport | undefined;
    child.on('message', (m) => (report = m as ServerReport));
    const [code] = (await once(child, 'exit')) as [number | null];
    if (code !== 0 || !report) throw new Error(`the ${transport} server exited with ${code} and no figure`);
    reports.push(report);
  }
  for (const r of reports) console.log(`${r.transport}: ${r.kibPerConnection.toFixed(1)} KiB of server memory per open connection (${r.connections} connections)`);
  const [tcp, tls] = reports;
  if (tcp && tls) console.log(`TLS adds ${(tls.kibPerConnection - tcp.kibPerConnection).toFixed(1)} KiB per connection; a relay terminates two TLS legs per relayed connection`);
}

const [role, ...args] = process.argv.slice(2);
const fail = failWith('connection-memory');
if (role === 'clients') runClients(args[0] as Transport, Number(args[1]), Number(args[2]), args[3] ?? '').catch(fail);
else if (role === 'server') runServer(args[0] as Transport, Number(args[1])).then(() => process.exit(0), fail);
else
  Promise.resolve()
    .then(() => main(connectionCount(role, 2000)))
    .catch(fail);
