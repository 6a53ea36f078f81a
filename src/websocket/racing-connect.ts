import net, { type Socket } from 'node:net';
import { clearTimer } from '../util/clear-timer.js';

export interface RacingConnect {
  /** The first attempt that connected; rejects with the first hard error (refused, unreachable). */
  connected: Promise<Socket>;
  /** Closes every attempt (the promise then never settles). */
  cancel(): void;
}

/** Attempts kept at once; on a path slower than `retryMs` x this, the oldest are given up. */
const MAX_ATTEMPTS = 8;

/**
 * A TCP connection that does not wait out the kernel's SYN back-off. A SYN lost in a network cut
 * is sent again by the kernel only after 1, 3, 7, 15 s; here a fresh attempt starts every
 * `retryMs` while none has connected, so the connection opens within `retryMs` (plus a round
 * trip) of the path coming back. Earlier attempts stay until one connects (their SYN-ACK may only
 * be late, on a slow path); the first one to connect wins and the others are closed. A hard error
 * fails at once: it is an answer from the network, not a lost packet.
 */
export function raceConnect(host: string, port: number, retryMs: number): RacingConnect {
  const attempts: Socket[] = [];
  let done = false;
  let resolveConnected!: (socket: Socket) => void;
  let rejectConnected!: (error: Error) => void;
  const connected = new Promise<Socket>((resolve, reject) => {
    resolveConnected = resolve;
    rejectConnected = reject;
  });

  function finish(): void {
    done = true;
    clearTimer(timer);
  }

  function attempt(): void {
    if (attempts.length >= MAX_ATTEMPTS) attempts.shift()?.destroy();
    const socket = net.connect({ host, port });
    attempts.push(socket);
    const onError = (error: Error) => {
      if (done) return;
      finish();
      for (const other of attempts.splice(0)) other.destroy();
      rejectConnected(error);
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      if (done) return socket.destroy();
      finish();
      socket.off('error', onError);
      for (const other of attempts.splice(0)) if (other !== socket) other.destroy();
      resolveConnected(socket);
    });
  }

  const timer = setInterval(attempt, retryMs);
  timer.unref();
  attempt();
  return {
    connected,
    cancel: () => {
      if (done) return;
      finish();
      for (const socket of attempts.splice(0)) socket.destroy();
    },
  };
}
