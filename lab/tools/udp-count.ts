/**
 * The lab's UDP counter, run inside lab nodes (node dist/lab/tools/udp-count.js ...).
 *   recv [HOST] [PORT]                  counts datagrams; prints {"ready":true,"port":N}, then
 *                                       {"received":N} when stdin ends
 *   send HOST PORT COUNT SIZE BATCH     sends COUNT datagrams of SIZE bytes, BATCH at a time with
 *                                       a 2 ms pause between batches (so no socket buffer on the
 *                                       way overflows and every missing datagram is the link's);
 *                                       prints {"sent":N}
 */
import { createSocket } from 'node:dgram';

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

function recv(host = '0.0.0.0', port = 0): void {
  const socket = createSocket('udp4');
  let received = 0;
  socket.on('message', () => received++);
  socket.bind(port, host, () => {
    socket.setRecvBufferSize(4 * 1024 * 1024);
    print({ ready: true, port: socket.address().port });
  });
  process.stdin.resume();
  process.stdin.on('end', () => {
    print({ received });
    process.exit(0);
  });
}

async function send(host: string, port: number, count: number, size: number, batch: number): Promise<void> {
  const socket = createSocket('udp4');
  const payload = Buffer.alloc(size, 0x61);
  let sent = 0;
  while (sent < count) {
    const n = Math.min(batch, count - sent);
    await Promise.all(Array.from({ length: n }, () => new Promise<void>((resolve, reject) => socket.send(payload, port, host, (err) => (err ? reject(err) : resolve())))));
    sent += n;
    await new Promise((r) => setTimeout(r, 2));
  }
  socket.close();
  print({ sent });
}

function integer(text: string | undefined, what: string, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`bad ${what}: ${text}`);
  return n;
}

const [mode, a, b, c, d, e] = process.argv.slice(2);
try {
  if (mode === 'recv') recv(a, b === undefined ? 0 : integer(b, 'port', 65535));
  else if (mode === 'send' && a) {
    send(a, integer(b, 'port', 65535), integer(c, 'count', 10_000_000), integer(d, 'size', 65507), integer(e, 'batch', 10_000)).catch((err: unknown) => {
      process.stderr.write(`udp-count: ${String(err)}\n`);
      process.exit(1);
    });
  } else {
    process.stderr.write('usage: udp-count.js recv [HOST] [PORT] | send HOST PORT COUNT SIZE BATCH\n');
    process.exit(2);
  }
} catch (err) {
  process.stderr.write(`udp-count: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
}
