import { createHash, randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { clearTimer } from '../util/clear-timer.js';

export interface TransferResult {
  bytes: number;
  ms: number;
  ok: boolean;
  detail: string;
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Sends `size` random bytes to an echo service at 127.0.0.1:port, half-closes, and checks that
 * exactly the same bytes (length and SHA-256) come back before the connection ends.
 */
export function echoThrough(port: number, size: number, timeoutMs = 60_000): Promise<TransferResult> {
  const payload = randomBytes(size);
  const expected = sha256(payload);
  const started = Date.now();
  return new Promise((resolve) => {
    const hash = createHash('sha256');
    let received = 0;
    const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const finish = (ok: boolean, detail: string) => {
      clearTimer(timer);
      socket.destroy();
      resolve({ bytes: size, ms: Date.now() - started, ok, detail });
    };
    const timer = setTimeout(() => finish(false, `no complete echo within ${timeoutMs / 1000} s (${received} of ${size} bytes back)`), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      hash.update(chunk);
    });
    socket.on('end', () => {
      const actual = hash.digest('hex');
      if (received !== size) finish(false, `${received} of ${size} bytes came back`);
      else if (actual !== expected) finish(false, 'the bytes that came back differ (SHA-256 mismatch)');
      else finish(true, 'SHA-256 match');
    });
    socket.on('error', (err) => finish(false, err.message));
    socket.on('connect', () => {
      let offset = 0;
      const chunk = 256 * 1024;
      const write = () => {
        while (offset < size) {
          const piece = payload.subarray(offset, offset + chunk);
          offset += piece.length;
          if (!socket.write(piece)) return void socket.once('drain', write);
        }
        socket.end();
      };
      write();
    });
  });
}

/** POSTs `size` random bytes through the relay's HTTP endpoint and checks the echoed body. */
export async function httpEchoThrough(url: string, token: string, size: number): Promise<TransferResult> {
  const payload = randomBytes(size);
  const started = Date.now();
  try {
    const res = await fetch(url, { method: 'POST', body: payload, headers: { ServiceBusAuthorization: token, 'content-type': 'application/octet-stream' } });
    const body = Buffer.from(await res.arrayBuffer());
    const ms = Date.now() - started;
    if (res.status !== 200) return { bytes: size, ms, ok: false, detail: `HTTP ${res.status} ${res.statusText}` };
    if (body.length !== size || sha256(body) !== sha256(payload)) return { bytes: size, ms, ok: false, detail: 'the body that came back differs' };
    return { bytes: size, ms, ok: true, detail: `HTTP 200, SHA-256 match, Via: ${res.headers.get('via') ?? '-'}` };
  } catch (err) {
    return { bytes: size, ms: Date.now() - started, ok: false, detail: (err as Error).message };
  }
}
