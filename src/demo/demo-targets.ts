import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/** The services the demo reaches through the relay: a TCP echo server and an HTTP echo server. */
export interface DemoTargets {
  echoPort: number;
  httpPort: number;
  close(): Promise<void>;
}

export async function startDemoTargets(): Promise<DemoTargets> {
  const sockets = new Set<Socket>();
  const echo: Server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.pipe(socket);
  });
  const http: HttpServer = createHttpServer((req, res) => {
    res.setHeader('content-type', req.headers['content-type'] ?? 'application/octet-stream');
    res.setHeader('x-demo-method', req.method ?? '');
    req.pipe(res);
  });
  await Promise.all([listen(echo), listen(http)]);
  return {
    echoPort: (echo.address() as AddressInfo).port,
    httpPort: (http.address() as AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      http.closeAllConnections();
      await Promise.all([new Promise((r) => echo.close(r)), new Promise((r) => http.close(r))]);
    },
  };
}

function listen(server: Server | HttpServer): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
}
