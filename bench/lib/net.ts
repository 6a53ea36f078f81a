/** Loopback helpers: free ports (bind port 0, release), waiting for a port, an echo probe. */
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { connect } from 'node:net';
import { freeTcpPort } from '../../src/util/free-port.js';

export const HOST = '127.0.0.1';

export function freePort(): Promise<number> {
  return freeTcpPort(HOST);
}

/** A port free for both UDP and TCP (bench UDP forwarders bind it for UDP). */
export async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  socket.bind(0, HOST);
  await once(socket, 'listening');
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Connects, writes `request` and resolves true when the first `expected.length` bytes that come back
 * equal `expected` (the path is usable end to end); false on error, close or after `timeoutMs`.
 */
export function exchangeProbe(endpoint: { host: string; port: number }, request: Buffer, expected: Buffer, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(endpoint);
    let got = Buffer.alloc(0);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('connect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length >= expected.length) done(got.subarray(0, expected.length).equals(expected));
    });
    socket.on('error', () => done(false));
    socket.on('close', () => done(false));
  });
}

/** An exchange whose answer is the request itself (echo targets). */
export function echoProbe(port: number, payload: Buffer, timeoutMs: number, host = HOST): Promise<boolean> {
  return exchangeProbe({ host, port }, payload, payload, timeoutMs);
}

/** Resolves once a TCP connection to host:port succeeds (polling), or rejects after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs: number, host = HOST): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host, port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    await delay(50);
  }
}
