/** S1/S2: streams through the bulk target; uploads are checked by the target, downloads by the driver. */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import type { BulkResult, BulkSpec } from './driver-spec.js';
import { describe, ErrorLog } from './error-log.js';
import { ChunkWriter } from './pattern.js';
import { CompareCheck, Sha256Check, type CheckMode, type StreamCheck } from './verify.js';

function header(command: 'U' | 'V' | 'D', length: number): Buffer {
  const h = Buffer.alloc(9);
  h.write(command, 0, 'latin1');
  h.writeBigUInt64BE(BigInt(length), 1);
  return h;
}

async function open(spec: BulkSpec): Promise<Socket> {
  const socket = connect({ host: spec.endpoint.host, port: spec.endpoint.port });
  await once(socket, 'connect');
  socket.on('error', () => undefined); // reported through the transfer's own promise
  return socket;
}

/** Sends the pattern stream with backpressure and resolves with the target's 32-byte answer. */
async function upload(socket: Socket, bytes: number, check: CheckMode): Promise<Buffer> {
  const answer = new Promise<Buffer>((resolve, reject) => {
    let got = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length >= 32) resolve(got.subarray(0, 32));
    });
    socket.once('close', () => reject(new Error(`connection closed before the target's answer (${got.length} of 32 bytes)`)));
    socket.once('error', reject);
  });
  answer.catch(() => undefined);
  socket.write(header(check === 'sha256' ? 'U' : 'V', bytes));
  const chunks = new ChunkWriter();
  for (let index = 0, sent = 0; sent < bytes; index++) {
    const size = Math.min(1024 * 1024, bytes - sent);
    sent += size;
    // The chunk buffer is reused: wait until the socket took it (write() true, or 'drain').
    if (!socket.write(chunks.next(index, size))) {
      await Promise.race([once(socket, 'drain'), answer]);
    }
  }
  return answer;
}

/** Whether the target's answer says it received exactly the pattern stream. */
function uploadVerdict(answer: Buffer, bytes: number, spec: BulkSpec): string | undefined {
  if (spec.check === 'sha256') {
    const digest = answer.toString('hex');
    return digest === spec.expectSha256 ? undefined : `SHA-256 mismatch at the target: ${digest.slice(0, 16)}…, expected ${spec.expectSha256.slice(0, 16)}…`;
  }
  const received = Number(answer.readBigUInt64BE(1));
  return answer[0] === 1 && received === bytes ? undefined : `the target received ${received} bytes that ${answer[0] === 1 ? 'matched' : 'did not match'} the ${bytes}-byte stream`;
}

function download(socket: Socket, bytes: number, spec: BulkSpec): Promise<string | undefined> {
  const check: StreamCheck = spec.check === 'sha256' ? new Sha256Check(spec.expectSha256) : new CompareCheck(bytes);
  return new Promise((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      check.update(chunk);
      if (check.bytes >= bytes) {
        const r = check.finish();
        resolve(r.matched ? undefined : check.bytes > bytes ? `received ${check.bytes} bytes, more than the ${bytes} sent` : `the ${bytes} bytes received differ from those sent`);
      }
    });
    socket.once('close', () => reject(new Error(`connection closed after ${check.bytes} of ${bytes} bytes`)));
    socket.once('error', reject);
    socket.write(header('D', bytes));
  });
}

export async function driveBulk(spec: BulkSpec): Promise<BulkResult> {
  const errors = new ErrorLog();
  let verified = 0;
  const streamMbPerSecond: number[] = [];
  const started = performance.now();
  const timer = setTimeout(() => {
    errors.add(`timed out after ${spec.timeoutMs} ms`);
    finish();
  }, spec.timeoutMs);
  const sockets: Socket[] = [];
  let finish: () => void = () => undefined;
  const timedOut = new Promise<void>((resolve) => (finish = resolve));
  const one = async () => {
    let socket: Socket | undefined;
    const opened = performance.now();
    try {
      socket = await open(spec);
      sockets.push(socket);
      const problem = spec.direction === 'upload' ? uploadVerdict(await upload(socket, spec.bytes, spec.check), spec.bytes, spec) : await download(socket, spec.bytes, spec);
      if (problem) errors.add(problem);
      else {
        verified++;
        streamMbPerSecond.push(spec.bytes / ((performance.now() - opened) / 1000) / 1e6);
      }
    } catch (err) {
      errors.add(describe(err));
    } finally {
      socket?.end();
    }
  };
  await Promise.race([Promise.all(Array.from({ length: spec.streams }, one)), timedOut]);
  const seconds = (performance.now() - started) / 1000;
  clearTimeout(timer);
  for (const s of sockets) s.destroy();
  const bytes = spec.bytes * verified;
  return { mode: 'bulk', ...errors.result, bytes, seconds, mbPerSecond: bytes / seconds / 1e6, verified, streamMbPerSecond };
}
