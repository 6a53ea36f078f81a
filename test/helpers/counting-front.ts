/**
 * A TCP pass-through in front of a relay that records each connection it accepts (when, and the
 * request line of the first bytes): what the relay's host sees, for tests that count pre-connected
 * sockets.
 */
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface Seen {
  acceptedAt: number;
  /** When the first bytes came, and the request line they started with. */
  firstByteAt?: number;
  requestLine?: string;
}

/** A TCP pass-through to `port` that records each connection it accepts. */
export async function countingFront(port: number): Promise<{ server: Server; port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const entry: Seen = { acceptedAt: performance.now() };
    seen.push(entry);
    const upstream = connect({ host: '127.0.0.1', port });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    client.once('data', (chunk: Buffer) => {
      entry.firstByteAt = performance.now();
      entry.requestLine = chunk.toString('latin1').split('\r\n')[0];
    });
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  server.on('close', () => {
    for (const s of sockets) s.destroy();
  });
  return { server, port: (server.address() as AddressInfo).port, seen };
}

