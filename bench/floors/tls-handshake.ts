/**
 * What one TLS connection costs two bare Node processes in CPU, with no hybridge code involved:
 * the floor under the relay's and the ends' set-up cost over TLS (every relayed connection opens
 * two TLS connections, each end dials one and the relay accepts both). A client process opens
 * connections one after the other to a server process (the bench's ECDSA P-256 certificate), each
 * sending one byte and waiting for the echo, first with full handshakes, then offering the last
 * session ticket again (as hybridge's client does); plain TCP runs the same loop for comparison.
 *
 *   node dist/bench/floors/tls-handshake.js [connections]   (default 1000)
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { connect as tcpConnect, createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { connect as tlsConnect, createSecureContext, createServer as createTlsServer } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { generateSelfSignedCertificate } from '../../src/relay/self-signed.js';
import { connectionCount, failWith } from './script-entry.js';

type Variant = 'tcp' | 'tls-full' | 'tls-resumed';
const VARIANTS: Variant[] = ['tcp', 'tls-full', 'tls-resumed'];
const SELF = fileURLToPath(import.meta.url);

interface ClientReport {
  cpuMicros: number;
  wallMs: number;
  resumed: number;
}

function cpuMicros(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return used.user + used.system;
}

/** Child: `count` sequential connections, each echoing one byte, then reports its CPU time. */
async function runClient(variant: Variant, port: number, count: number, ca: string): Promise<void> {
  const context = variant === 'tcp' ? undefined : createSecureContext({ ca });
  let session: Buffer | undefined;
  let resumed = 0;
  const started = process.cpuUsage();
  const wallStart = performance.now();
  for (let i = 0; i < count; i++) {
    let socket: Socket;
    if (context) {
      const tls = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', secureContext: context, session: variant === 'tls-resumed' ? session : undefined });
      tls.on('session', (s: Buffer) => (session = s));
      await once(tls, 'secureConnect');
      if (tls.isSessionReused()) resumed++;
      socket = tls;
    } else {
      socket = tcpConnect(port, '127.0.0.1');
      await once(socket, 'connect');
    }
    socket.write('x');
    await once(socket, 'data');
    socket.end();
    await once(socket, 'close');
  }
  const report: ClientReport = { cpuMicros: cpuMicros(started), wallMs: performance.now() - wallStart, resumed };
  process.send?.(report);
  process.on('disconnect', () => process.exit(0));
}

/** Parent: the server, and one client process per variant. */
async function main(count: number): Promise<void> {
  const cert = generateSelfSignedCertificate(['127.0.0.1', 'localhost']);
  console.log(`Node ${process.version}, OpenSSL ${process.versions.openssl}; ${count} sequential connections per variant, CPU per connection:`);
  for (const variant of VARIANTS) {
    const echo = (socket: Socket) => {
      socket.on('error', () => undefined);
      socket.on('data', (chunk: Buffer) => socket.end(chunk));
    };
    const server = variant === 'tcp' ? createTcpServer(echo) : createTlsServer({ cert: cert.cert, key: cert.key }, echo);
    server.on('tlsClientError', () => undefined);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    const serverStart = process.cpuUsage();
    const client = fork(SELF, ['client', variant, String(port), String(count), cert.cert], { stdio: 'inherit' });
    const [report] = (await Promise.race([once(client, 'message'), once(client, 'exit').then(() => [undefined])])) as [ClientReport | undefined];
    const serverMicros = cpuMicros(serverStart);
    client.kill();
    server.close();
    if (!report) throw new Error(`the ${variant} client stopped without a figure`);
    const per = (micros: number) => `${(micros / count / 1000).toFixed(2)} ms`;
    const resumed = variant === 'tls-resumed' ? `, ${report.resumed} of ${count} resumed` : '';
    console.log(`  ${variant.padEnd(12)} client ${per(report.cpuMicros)}, server ${per(serverMicros)}; ${(report.wallMs / count).toFixed(2)} ms wall each${resumed}`);
  }
}

const [role, ...args] = process.argv.slice(2);
const fail = failWith('tls-handshake');
if (role === 'client') runClient(args[0] as Variant, Number(args[1]), Number(args[2]), args[3] ?? '').catch(fail);
else
  Promise.resolve()
    .then(() => main(connectionCount(role, 1000)))
    .then(() => process.exit(0), fail);
