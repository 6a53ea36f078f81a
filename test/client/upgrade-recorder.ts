/**
 * A stand-in for a relay that records each WebSocket upgrade request (path and headers) and
 * answers it with a fixed HTTP status, so tests can see exactly what a client puts on the wire.
 */
import { once } from 'node:events';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface RecordedUpgrade {
  url: string;
  headers: IncomingHttpHeaders;
  /** Header names as sent (case kept). */
  rawHeaderNames: string[];
}

export interface UpgradeRecorder {
  port: number;
  /** ws://127.0.0.1:PORT */
  base: string;
  requests: RecordedUpgrade[];
  close(): Promise<void>;
}

export async function startUpgradeRecorder(status = 401, reason = 'Unauthorized: recorded'): Promise<UpgradeRecorder> {
  const requests: RecordedUpgrade[] = [];
  const sockets = new Set<Socket>();
  const server = http.createServer((_req, res) => {
    res.writeHead(404).end();
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Socket) => {
    requests.push({ url: req.url ?? '', headers: req.headers, rawHeaderNames: req.rawHeaders.filter((_, i) => i % 2 === 0) });
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    port,
    base: `ws://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
