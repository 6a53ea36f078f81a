/**
 * A deliberately bare WebSocket client for attackers: raw TCP from a chosen loopback source
 * address, the upgrade written by hand, frames built byte by byte (masked as a client must, or
 * not, as an attacker may). It shares no code with hybridge's own WebSocket layer.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

export { clientFrame, OP } from '../../helpers/raw-frames.js';

export interface RawTarget {
  host: string;
  port: number;
  /** Loopback source address (127.0.0.x), so that attackers count as other clients. */
  localAddress?: string;
}

export interface Upgraded {
  socket: Socket;
  status: number;
  /** Bytes after the response head. */
  head: Buffer;
}

/** Opens a TCP connection from `localAddress`; rejects on error or after `timeoutMs`. */
export function rawConnect(target: RawTarget, timeoutMs = 5000): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: target.host, port: target.port, localAddress: target.localAddress });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('connect timed out'));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Sends a WebSocket upgrade for `path` and reads the response head; the socket is left paused. */
export async function rawUpgrade(target: RawTarget, path: string, headers: Record<string, string> = {}, timeoutMs = 5000): Promise<Upgraded> {
  const socket = await rawConnect(target, timeoutMs);
  const lines = [
    `GET ${path} HTTP/1.1`,
    `Host: ${target.host}:${target.port}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
    'Sec-WebSocket-Version: 13',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.write(lines.join('\r\n') + '\r\n\r\n');
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(() => finish(new Error('no upgrade answer in time')), timeoutMs);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(buffered.subarray(0, end).toString('latin1'))?.[1] ?? 0);
      finish(undefined, { socket, status, head: buffered.subarray(end + 4) });
    };
    const onClose = () => finish(new Error('closed before the upgrade answer'));
    const finish = (err: Error | undefined, result?: Upgraded) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.pause();
      if (err) {
        socket.destroy();
        reject(err);
      } else resolve(result!);
    };
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.once('error', () => undefined);
  });
}


/**
 * Writes `batch` (frames built once) over and over until `stop()`: the attacker waits for 'drain'
 * like any writer, so the flood is as fast as the relay reads and no faster. Returns the bytes sent.
 */
export async function floodFrames(socket: Socket, batch: Buffer, stop: () => boolean): Promise<number> {
  let sent = 0;
  while (!stop() && !socket.destroyed) {
    sent += batch.length;
    if (!socket.write(batch)) await drainOrStop(socket, stop);
    // Lets timers and signals in between batches (the kernel may take every write at once).
    else await new Promise((resolve) => setImmediate(resolve));
  }
  return sent;
}

function drainOrStop(socket: Socket, stop: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      socket.off('drain', done);
      socket.off('close', done);
      clearInterval(poll);
      resolve();
    };
    const poll = setInterval(() => {
      if (stop()) done();
    }, 100);
    socket.once('drain', done);
    socket.once('close', done);
  });
}
