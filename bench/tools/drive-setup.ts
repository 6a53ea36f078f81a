/**
 * S3: `count` sequential connections, each: connect, write one byte, wait for its echo, end. The
 * figure is connect-to-echo; closes run in the background and must all complete (an unclosed
 * connection counts as an error).
 */
import { connect } from 'node:net';
import type { SetupResult, SetupSpec } from './driver-spec.js';
import { describe, ErrorLog } from './error-log.js';
import { percentiles } from '../lib/stats.js';

function once1(spec: SetupSpec, value: number, closes: Promise<void>[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = connect({ host: spec.endpoint.host, port: spec.endpoint.port, noDelay: true });
    let echoed = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no echo within 10 s'));
    }, 10_000);
    closes.push(
      new Promise<void>((done) => {
        socket.once('close', () => done());
      }),
    );
    socket.once('connect', () => socket.write(Buffer.from([value])));
    socket.on('data', (chunk: Buffer) => {
      if (echoed) return reject(new Error('more bytes than were sent'));
      echoed = true;
      clearTimeout(timer);
      const elapsed = performance.now() - started;
      if (chunk.length !== 1 || chunk[0] !== value) reject(new Error(`echo mismatch (${chunk.length} bytes)`));
      else resolve(elapsed);
      socket.end();
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.once('close', () => {
      clearTimeout(timer);
      if (!echoed) reject(new Error('closed before the echo'));
    });
  });
}

export async function driveSetup(spec: SetupSpec): Promise<SetupResult> {
  const errors = new ErrorLog();
  const latencies: number[] = [];
  const closes: Promise<void>[] = [];
  const deadline = Date.now() + spec.timeoutMs;
  for (let i = 0; i < spec.count; i++) {
    if (Date.now() > deadline) {
      errors.add(`timed out after ${i} connections`);
      break;
    }
    try {
      latencies.push(await once1(spec, i & 0xff, closes));
    } catch (err) {
      errors.add(describe(err));
    }
    if (spec.pauseMs) await new Promise((r) => setTimeout(r, spec.pauseMs));
  }
  let unclosed = closes.length;
  await Promise.race([Promise.all(closes.map((c) => c.then(() => unclosed--))), new Promise((r) => setTimeout(r, 10_000))]);
  if (unclosed > 0) errors.add(`${unclosed} connections not closed 10 s after the last echo`, unclosed);
  return { mode: 'setup', ...errors.result, completed: latencies.length, latencyMs: percentiles(latencies) };
}
