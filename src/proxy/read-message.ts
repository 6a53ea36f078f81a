import type { Socket } from 'node:net';

/** A complete message at the start of the buffered bytes, and how many bytes it took. */
export type MessageParser<T> = (buffered: Buffer) => { value: T; length: number } | undefined;

/** The peer ended or closed the connection before a complete message arrived. */
export class ConnectionEndedError extends Error {
  constructor() {
    super('the connection closed before a complete answer arrived');
    this.name = 'ConnectionEndedError';
  }
}

/**
 * Reads from `socket` until `parse` finds a complete message (it throws on malformed bytes), and
 * gives back any bytes after it with unshift(), so whoever reads next sees them. Nothing is
 * buffered beyond `limit` bytes. The socket is left paused, without this function's listeners;
 * the next 'data' listener starts the flow again.
 */
export function readMessage<T>(socket: Socket, parse: MessageParser<T>, limit: number): Promise<T> {
  return new Promise((resolve, reject) => {
    let buffered: Buffer = Buffer.alloc(0);
    const done = () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onError);
      socket.pause();
      // Back to "no reader yet", so a later 'data' listener resumes the flow.
      (socket as unknown as { readableFlowing: boolean | null }).readableFlowing = null;
    };
    const onError = (err: Error) => {
      done();
      reject(err);
    };
    const onEnd = () => onError(new ConnectionEndedError());
    const onData = (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      let found;
      try {
        found = parse(buffered);
        if (!found && buffered.length >= limit) throw new Error(`an answer longer than ${limit} bytes`);
      } catch (err) {
        return onError(err as Error);
      }
      if (!found) return;
      done();
      if (found.length < buffered.length) socket.unshift(buffered.subarray(found.length));
      resolve(found.value);
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.on('error', onError);
    socket.resume();
  });
}
