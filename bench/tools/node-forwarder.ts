/**
 * One hop of the "bare Node chain" floor: a TCP port whose every connection is joined to the next
 * hop with pipe() both ways (half-close passes through, an error on one side destroys the other).
 * No protocol, no checks, no logging: what three Node processes in series cost on this machine
 * when they only move bytes, the same process shape as a relayed connection (sender end, relay,
 * listener end).
 *
 * With TLS options a hop accepts and/or dials TLS the way a relayed connection's legs do: the TLS
 * floor runs TLS between the hops (hop 1 dials TLS, hop 2 accepts and dials TLS, hop 3 accepts
 * TLS). Dialing keeps the last session ticket and offers it on the next connection, as hybridge's
 * client does.
 *
 * Usage: node node-forwarder.js <listen-port> <next-host> <next-port>
 *          [--listen-host HOST] [--accept-tls CERT_FILE KEY_FILE] [--connect-tls CA_FILE]
 * Listens on HOST (default: next-host). Prints {"ready":true}.
 */
import { readFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { connect as tlsConnect, createSecureContext, createServer as createTlsServer } from 'node:tls';

function usage(): never {
  console.error('usage: node-forwarder <listen-port> <next-host> <next-port> [--listen-host HOST] [--accept-tls CERT KEY] [--connect-tls CA]');
  process.exit(2);
}

const [listenPort, nextHost, nextPort, ...rest] = process.argv.slice(2);
if (!listenPort || !nextHost || !nextPort || !/^\d+$/.test(listenPort) || !/^\d+$/.test(nextPort)) usage();
let acceptTls: { cert: Buffer; key: Buffer } | undefined;
let connectCa: Buffer | undefined;
let listenHost = nextHost;
for (let i = 0; i < rest.length; i++) {
  if (rest[i] === '--listen-host' && rest[i + 1] !== undefined) {
    listenHost = rest[++i]!;
  } else if (rest[i] === '--accept-tls' && rest[i + 2] !== undefined) {
    acceptTls = { cert: readFileSync(rest[i + 1]!), key: readFileSync(rest[i + 2]!) };
    i += 2;
  } else if (rest[i] === '--connect-tls' && rest[i + 1] !== undefined) {
    connectCa = readFileSync(rest[++i]!);
  } else usage();
}

const clientContext = connectCa ? createSecureContext({ ca: connectCa }) : undefined;
let lastSession: Buffer | undefined;

function dialNext(): Socket {
  const options = { host: nextHost!, port: Number(nextPort), noDelay: true };
  if (!clientContext) return connect(options);
  const socket = tlsConnect({ ...options, servername: 'localhost', secureContext: clientContext, session: lastSession });
  socket.on('session', (session: Buffer) => (lastSession = session));
  return socket;
}

function join(client: Socket): void {
  const next = dialNext();
  client.setNoDelay(true);
  client.pipe(next);
  next.pipe(client);
  client.on('error', () => next.destroy());
  next.on('error', () => client.destroy());
}

const server = acceptTls ? createTlsServer(acceptTls, join) : createServer(join);
server.on('tlsClientError', () => undefined);
server.listen({ host: listenHost, port: Number(listenPort), backlog: 4096 }, () => console.log(JSON.stringify({ ready: true })));
process.on('SIGTERM', () => process.exit(0));
