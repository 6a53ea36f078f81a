/**
 * The lab's TCP ping-pong, run inside lab nodes (node dist/lab/tools/tcp-ping.js ...). One byte
 * goes out, its echo comes back, Nagle off: the time is one round trip of the path, as TCP
 * traffic sees it (unlike ICMP ping, whose packets other rules and queues may treat differently).
 *   server [HOST] [PORT]      echoes every connection; prints {"ready":true,"port":N}
 *   ping HOST PORT COUNT      one connection, COUNT sequential round trips;
 *                             prints {"connectMs":x,"rttMs":[...]}
 *   session HOST PORT         one connection kept open; each stdin line "ping" sends a byte and
 *                             prints {"pong":ms} when it returns; prints {"connected":ms} first,
 *                             {"error":"..."} or {"closed":true} when the connection ends
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { createInterface } from 'node:readline';

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

function server(host = '0.0.0.0', port = 0): void {
  const srv = createServer({ noDelay: true }, (socket) => {
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  srv.listen({ host, port }, () => print({ ready: true, port: (srv.address() as AddressInfo).port }));
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
}

function open(host: string, port: number): Promise<{ socket: Socket; connectMs: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = connect({ host, port, noDelay: true });
    socket.once('connect', () => resolve({ socket, connectMs: performance.now() - started }));
    socket.once('error', reject);
  });
}

function roundTrip(socket: Socket): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const fail = () => reject(new Error('connection closed during a round trip'));
    socket.once('close', fail);
    socket.once('data', () => {
      socket.off('close', fail);
      resolve(performance.now() - started);
    });
    socket.write('p');
  });
}

async function ping(host: string, port: number, count: number): Promise<void> {
  const { socket, connectMs } = await open(host, port);
  const rttMs: number[] = [];
  for (let i = 0; i < count; i++) rttMs.push(await roundTrip(socket));
  socket.destroy();
  print({ connectMs, rttMs });
}

async function session(host: string, port: number): Promise<void> {
  const { socket, connectMs } = await open(host, port);
  print({ connected: connectMs });
  const sent: number[] = [];
  socket.on('data', (chunk: Buffer) => {
    for (let i = 0; i < chunk.length; i++) {
      const t = sent.shift();
      if (t !== undefined) print({ pong: performance.now() - t });
    }
  });
  socket.on('error', (err) => print({ error: err.message }));
  socket.on('close', () => {
    print({ closed: true });
    process.exit(0);
  });
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line.trim() !== 'ping') return;
    sent.push(performance.now());
    socket.write('p');
  });
  lines.on('close', () => socket.destroy());
}

function whole(text: string | undefined, what: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`bad ${what}: ${text}`);
  return n;
}

const [mode, a, b, c] = process.argv.slice(2);
const fail = (err: unknown) => {
  process.stderr.write(`tcp-ping: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
};
try {
  if (mode === 'server') server(a, b === undefined ? 0 : whole(b, 'port'));
  else if (mode === 'ping' && a) ping(a, whole(b, 'port'), whole(c, 'count')).catch(fail);
  else if (mode === 'session' && a) session(a, whole(b, 'port')).catch(fail);
  else {
    process.stderr.write('usage: tcp-ping.js server [HOST] [PORT] | ping HOST PORT COUNT | session HOST PORT\n');
    process.exit(2);
  }
} catch (err) {
  fail(err);
}
