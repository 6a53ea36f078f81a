import type { WsConnection } from '../../src/websocket/connection.js';
import { withTimeout } from './async.js';

/** Collects whole messages from a WsConnection. */
export function messages(conn: WsConnection, head?: Buffer) {
  const received: { binary: boolean; data: Buffer }[] = [];
  let parts: Buffer[] = [];
  let binary = false;
  const waiters: (() => void)[] = [];
  const closed = { code: 0, reason: '', peerClosed: false, finished: false };
  conn.attach({
    onMessageStart: (b) => (binary = b),
    onMessageData: (c) => parts.push(Buffer.from(c)),
    onMessageEnd: () => {
      received.push({ binary, data: Buffer.concat(parts) });
      parts = [];
      waiters.splice(0).forEach((w) => w());
    },
    onPeerClose: (code, reason) => {
      closed.peerClosed = true;
      closed.code = code;
      closed.reason = reason;
      waiters.splice(0).forEach((w) => w());
    },
    onClosed: () => {
      closed.finished = true;
      waiters.splice(0).forEach((w) => w());
    },
  }, head);
  const until = (pred: () => boolean) =>
    withTimeout(
      new Promise<void>((resolve) => {
        const check = () => (pred() ? resolve() : waiters.push(check));
        check();
      }),
      10_000,
      'websocket event',
    );
  return { received, closed, until };
}

