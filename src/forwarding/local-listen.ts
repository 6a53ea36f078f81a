import { connect, createServer, type Server, type Socket } from 'node:net';
import { lstatSync, unlinkSync } from 'node:fs';
import { formatTarget } from './dial.js';

export class ListenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ListenError';
  }
}

/** A TCP server that keeps half-open connections (so a client's FIN does not cut our reply). */
export function listenTcp(host: string | undefined, port: number, onConnection: (socket: Socket) => void): Promise<Server> {
  const server = createServer({ allowHalfOpen: true, noDelay: true }, onConnection);
  const where = formatTarget(host ?? '*', port);
  return start(server, () => server.listen({ host, port }), where);
}

/**
 * A Unix-socket server. A leftover socket file from a process that died is removed; a live one
 * (something answers on it) is an error.
 */
export async function listenUnix(path: string, onConnection: (socket: Socket) => void): Promise<Server> {
  await removeStaleSocket(path);
  const server = createServer({ allowHalfOpen: true }, onConnection);
  return start(server, () => server.listen({ path }), path);
}

function start(server: Server, listen: () => void, where: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const reason =
        err.code === 'EADDRINUSE'
          ? 'is already in use'
          : err.code === 'EACCES'
            ? 'needs privileges this process does not have'
            : err.code === 'EADDRNOTAVAIL'
              ? 'is not an address of this machine'
              : `cannot be used (${err.message})`;
      reject(new ListenError(`${where} ${reason}`));
    });
    server.once('listening', () => resolve(server));
    listen();
  });
}

async function removeStaleSocket(path: string): Promise<void> {
  let isSocket = false;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return;
  }
  if (!isSocket) throw new ListenError(`${path} exists and is not a socket`);
  const alive = await new Promise<boolean>((resolve) => {
    const probe = connect({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive) throw new ListenError(`${path} is already in use by another process`);
  unlinkSync(path);
}
