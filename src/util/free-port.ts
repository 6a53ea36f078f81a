import { createServer, type AddressInfo } from 'node:net';

/**
 * A TCP port nothing listens on right now: bound to port 0 and released. Another program could
 * take it before the caller binds it, which is acceptable for start-up of local helpers and tests.
 */
export function freeTcpPort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
