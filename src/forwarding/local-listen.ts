import { connect, createServer, type Server, type Socket } from 'node:net';
import { existsSync, lstatSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { formatTarget } from './dial.js';

export class ListenError extends Error {
  constructor(
    message: string,
    /** The configuration is wrong (no such address or directory), rather than the moment (port taken). */
    readonly configProblem = false,
  ) {
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
  return start(server, () => server.listen({ path }), path, dirname(path));
}

function start(server: Server, listen: () => void, where: string, socketDirectory?: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      // libuv reports a socket in a missing directory as EACCES; say what is really wrong.
      if (socketDirectory !== undefined && (err.code === 'ENOENT' || (err.code === 'EACCES' && !existsSync(socketDirectory)))) {
        return reject(new ListenError(`${where}: the directory ${socketDirectory} does not exist`, true));
      }
      if (err.code === 'EADDRNOTAVAIL') return reject(new ListenError(`${where} is not an address of this machine`, true));
      const reason = err.code === 'EADDRINUSE' ? 'is already in use' : err.code === 'EACCES' ? 'needs privileges this process does not have' : `cannot be used (${err.message})`;
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
  if (!isSocket) throw new ListenError(`${path} exists and is not a socket`, true);
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
