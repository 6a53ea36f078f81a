/**
 * One hop of the "bare Node chain" floor: a TCP port whose every connection is joined to the next
 * hop with pipe() both ways (half-close passes through, an error on one side destroys the other).
 * No protocol, no checks, no logging: what three Node processes in series cost on this machine
 * when they only move bytes, the same process shape as a relayed connection (sender end, relay,
 * listener end).
 * Usage: node node-forwarder.js <listen-port> <next-host> <next-port>. Prints {"ready":true}.
 */
import { connect, createServer } from 'node:net';

const [listenPort, nextHost, nextPort] = process.argv.slice(2);
if (!listenPort || !nextHost || !nextPort || !/^\d+$/.test(listenPort) || !/^\d+$/.test(nextPort)) {
  console.error('usage: node-forwarder <listen-port> <next-host> <next-port>');
  process.exit(2);
}

const server = createServer((client) => {
  const next = connect({ host: nextHost, port: Number(nextPort), noDelay: true });
  client.setNoDelay(true);
  client.pipe(next);
  next.pipe(client);
  client.on('error', () => next.destroy());
  next.on('error', () => client.destroy());
});
server.listen({ host: nextHost, port: Number(listenPort), backlog: 4096 }, () => console.log(JSON.stringify({ ready: true })));
process.on('SIGTERM', () => process.exit(0));
