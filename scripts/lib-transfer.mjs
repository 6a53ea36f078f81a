// The byte sink/source target and the one-stream transfer the throughput scripts (data-path,
// mux-throughput) measure with. The first byte a client sends says what it wants: 'u' = sink
// (count `bytes`, answer one byte), 'd' = source (send `bytes`, then end).
import { Buffer } from 'node:buffer';
import { createConnection, createServer } from 'node:net';
import process from 'node:process';

const chunk = Buffer.alloc(64 * 1024, 0x5a);

/** Writes `count` bytes to `socket` with backpressure, then calls `done`. */
export function pumpBytes(socket, count, done) {
  let left = count;
  const more = () => {
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      left -= n;
      if (!socket.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void socket.once('drain', more);
    }
    done();
  };
  more();
}

/** A free TCP port on 127.0.0.1 (closed again). */
export async function freePort() {
  const probe = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => probe.once('listening', r));
  const port = probe.address().port;
  await new Promise((r) => probe.close(r));
  return port;
}

/** Starts the sink/source target for transfers of `bytes`; resolves with the server (listening on 127.0.0.1). */
export async function startTarget(bytes) {
  const target = createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => {});
    socket.once('data', (first) => {
      if (first[0] === 0x64) return pumpBytes(socket, bytes, () => socket.end());
      let got = first.length - 1;
      const check = () => {
        if (got >= bytes) socket.end('k');
      };
      socket.on('data', (b) => {
        got += b.length;
        check();
      });
      socket.on('end', () => socket.end());
      check();
    });
  }).listen(0, '127.0.0.1');
  await new Promise((r) => target.once('listening', r));
  return target;
}

/** One stream moving `bytes` in `direction` ('u' or 'd') through `port`; resolves with bytes per second. */
export function transfer(port, direction, bytes) {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ port, host: '127.0.0.1', allowHalfOpen: true });
    const started = process.hrtime.bigint();
    const done = () => resolve(bytes / (Number(process.hrtime.bigint() - started) / 1e9));
    socket.on('error', reject);
    if (direction === 'd') {
      let got = 0;
      socket.on('data', (b) => (got += b.length));
      socket.on('end', () => {
        socket.end();
        if (got >= bytes) done();
        else reject(new Error(`download: ${got} of ${bytes} bytes`));
      });
      socket.write('d');
      return;
    }
    socket.write('u');
    socket.once('data', () => {
      done();
      socket.end();
    });
    pumpBytes(socket, bytes, () => undefined);
  });
}
