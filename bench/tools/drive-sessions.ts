/**
 * S4/S5: many connections through the echo target. Each connection is usable once its hello came
 * back; then every connection sends a message every `intervalMs` (phases spread evenly over the
 * interval) for `durationMs`, and every echo is checked byte for byte and timed.
 */
import { connect, type Socket } from 'node:net';
import type { SessionsResult, SessionsSpec } from './driver-spec.js';
import { EchoChecker } from './echo-checker.js';
import { describe, ErrorLog } from './error-log.js';
import { messageBytes } from './pattern.js';
import { percentiles } from '../lib/stats.js';

interface Session {
  id: number;
  socket: Socket;
  checker: EchoChecker;
  sequence: number;
  failed: boolean;
  closing: boolean;
}

export async function driveSessions(spec: SessionsSpec): Promise<SessionsResult> {
  const errors = new ErrorLog();
  const latencies: number[] = [];
  const usable: number[] = [];
  let openStart = 0;
  let firstUsableMs = Number.NaN;
  let steady = false;
  let messagesSent = 0;
  let messagesEchoed = 0;
  let bytesEchoed = 0;
  const sessions: Session[] = [];
  const fail = (s: Session, what: string) => {
    if (s.failed) return;
    s.failed = true;
    errors.add(`connection ${s.id}: ${what}`);
    s.socket.destroy();
  };

  const openOne = (id: number): Promise<void> =>
    new Promise((resolve) => {
      const started = performance.now();
      const socket = connect({ host: spec.endpoint.host, port: spec.endpoint.port, noDelay: true });
      let helloDone = false;
      const session: Session = { id, socket, sequence: 1, failed: false, closing: false, checker: undefined as unknown as EchoChecker };
      session.checker = new EchoChecker((ms, bytes) => {
        if (!helloDone) {
          helloDone = true;
          clearTimeout(timer);
          usable.push(performance.now() - started);
          // Echoes arrive in time order: the first one pushed is the first connection usable.
          if (usable.length === 1) firstUsableMs = performance.now() - openStart;
          resolve();
          return;
        }
        if (steady) latencies.push(ms);
        messagesEchoed++;
        bytesEchoed += bytes;
      });
      sessions.push(session);
      const timer = setTimeout(() => {
        fail(session, 'not usable within 30 s');
        resolve();
      }, 30_000);
      socket.on('connect', () => {
        const hello = messageBytes(spec.helloBytes, id, 0);
        session.checker.sent(hello);
        socket.write(hello);
      });
      socket.on('data', (chunk: Buffer) => {
        if (!session.checker.received(chunk)) fail(session, 'echo mismatch');
      });
      socket.on('error', (err) => fail(session, describe(err)));
      socket.on('close', () => {
        if (!session.closing) fail(session, helloDone ? 'closed by the path' : 'closed before the hello echo');
        if (!helloDone) {
          clearTimeout(timer);
          resolve();
        }
      });
    });

  openStart = performance.now();
  if (spec.openBatch <= 0) await Promise.all(Array.from({ length: spec.connections }, (_, i) => openOne(i)));
  else {
    for (let first = 0; first < spec.connections; first += spec.openBatch) {
      const batch = Array.from({ length: Math.min(spec.openBatch, spec.connections - first) }, (_, k) => openOne(first + k));
      await Promise.all(batch);
    }
  }
  const allUsableMs = performance.now() - openStart;
  const opened = sessions.filter((s) => !s.failed).length;
  process.stderr.write(`driver: ${opened}/${spec.connections} connections usable after ${allUsableMs.toFixed(0)} ms\n`);

  steady = true;
  const steadyStart = performance.now();
  const timers: NodeJS.Timeout[] = [];
  const sendNext = (s: Session) => {
    if (s.failed || performance.now() - steadyStart >= spec.durationMs) return;
    const message = messageBytes(spec.messageBytes, s.id, s.sequence++);
    s.checker.sent(message);
    s.socket.write(message);
    messagesSent++;
  };
  await new Promise<void>((resolve) => {
    sessions.forEach((s, i) => {
      const phase = (i / sessions.length) * spec.intervalMs;
      timers.push(
        setTimeout(() => {
          sendNext(s);
          timers.push(setInterval(() => sendNext(s), spec.intervalMs));
        }, phase),
      );
    });
    setTimeout(resolve, spec.durationMs);
  });
  for (const t of timers) clearTimeout(t);

  const outstanding = () => sessions.reduce((n, s) => n + (s.failed ? 0 : s.checker.outstanding), 0);
  const drainUntil = performance.now() + spec.drainMs;
  while (outstanding() > 0 && performance.now() < drainUntil) await new Promise((r) => setTimeout(r, 20));
  const lost = messagesSent - messagesEchoed;
  if (lost > 0) errors.add(`${lost} messages not echoed ${spec.drainMs} ms after the last send`, 0);

  // Closing is not measured: end every connection, give the path a second, then cut the rest.
  const closes = sessions.map(
    (s) =>
      new Promise<void>((resolve) => {
        s.closing = true;
        if (s.socket.destroyed) return resolve();
        s.socket.once('close', () => resolve());
        s.socket.end();
      }),
  );
  await Promise.race([Promise.all(closes), new Promise((r) => setTimeout(r, 1000))]);
  for (const s of sessions) s.socket.destroy();

  return {
    mode: 'sessions',
    ...errors.result,
    errors: errors.count + lost,
    opened,
    allUsableMs,
    firstUsableMs,
    usableMs: percentiles(usable),
    messagesSent,
    messagesEchoed,
    lost,
    latencyMs: percentiles(latencies),
    bytesEchoed,
  };
}
