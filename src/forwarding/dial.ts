import { connect, type Socket } from 'node:net';
import type { DialFailureCode } from '../protocol/aztunnel-envelope.js';
import { classifyDialError, ConnectTimeoutError } from './dial-errors.js';
import { clearTimer } from '../util/clear-timer.js';

export interface TcpDialOptions {
  host: string;
  port: number;
  timeoutMs: number;
  /** Source address for the outbound connection (azbridge's -b). */
  localAddress?: string;
  family?: 0 | 4 | 6;
  /** TCP keep-alive interval; 0 turns it off. */
  keepAliveMs?: number;
}

/** A target that could not be reached, with aztunnel's failure code when one fits. */
export class DialError extends Error {
  constructor(
    readonly target: string,
    readonly code: DialFailureCode | undefined,
    override readonly cause: Error,
  ) {
    super(`cannot connect to ${target}: ${code ? code.replace(/_/g, ' ') : cause.message}`);
    this.name = 'DialError';
  }
}

export function formatTarget(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Connects to a TCP target (half-open allowed, Nagle off), failing with a DialError. */
export function dialTcp(options: TcpDialOptions): Promise<Socket> {
  const target = formatTarget(options.host, options.port);
  return dial(
    () =>
      connect({
        host: options.host,
        port: options.port,
        localAddress: options.localAddress,
        family: options.family,
        allowHalfOpen: true,
        noDelay: true,
        keepAlive: (options.keepAliveMs ?? 0) > 0,
        keepAliveInitialDelay: options.keepAliveMs,
      }),
    target,
    options.timeoutMs,
  );
}

/** Connects to a Unix domain socket. */
export function dialUnix(path: string, timeoutMs: number): Promise<Socket> {
  return dial(() => connect({ path, allowHalfOpen: true }), path, timeoutMs);
}

function dial(create: () => Socket, target: string, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = create();
    const timer = setTimeout(() => fail(new ConnectTimeoutError(target, timeoutMs)), timeoutMs);
    function fail(err: Error): void {
      clearTimer(timer);
      socket.destroy();
      reject(new DialError(target, classifyDialError(err), err));
    }
    socket.once('error', fail);
    socket.once('connect', () => {
      clearTimer(timer);
      socket.off('error', fail);
      resolve(socket);
    });
  });
}
