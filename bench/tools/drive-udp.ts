/**
 * S7: closed-loop UDP echo. `window` datagrams are kept in flight; each carries a sequence number
 * and pattern bytes, and is checked when it comes back. A datagram not back within
 * `lossTimeoutMs` is lost (and replaced, so the loop keeps going).
 */
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import type { UdpResult, UdpSpec } from './driver-spec.js';
import { ErrorLog } from './error-log.js';
import { messageBytes } from './pattern.js';
import { percentiles } from '../lib/stats.js';

export async function driveUdp(spec: UdpSpec): Promise<UdpResult> {
  const errors = new ErrorLog();
  const socket = createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  socket.setRecvBufferSize(4 * 1024 * 1024);
  socket.setSendBufferSize(4 * 1024 * 1024);
  socket.connect(spec.endpoint.port, spec.endpoint.host);
  await once(socket, 'connect');

  const inFlight = new Map<number, number>();
  const rtts: number[] = [];
  let sequence = 0;
  let sent = 0;
  let received = 0;
  let lost = 0;
  let late = 0;
  let sending = true;
  const started = performance.now();

  const sendOne = () => {
    if (!sending) return;
    const seq = sequence++;
    inFlight.set(seq, performance.now());
    sent++;
    socket.send(messageBytes(spec.size, 0, seq), (err) => {
      if (err) errors.add(`send: ${err.message}`);
    });
  };
  socket.on('message', (msg: Buffer) => {
    const seq = msg.length >= 8 ? msg.readUInt32BE(4) : -1;
    const sentAt = inFlight.get(seq);
    if (sentAt === undefined) {
      if (seq >= 0 && seq < sequence) late++;
      else errors.add('unexpected datagram');
      return;
    }
    inFlight.delete(seq);
    if (!msg.equals(messageBytes(spec.size, 0, seq))) {
      errors.add(`datagram ${seq} corrupted`);
    } else {
      received++;
      rtts.push(performance.now() - sentAt);
    }
    sendOne();
  });
  socket.on('error', (err) => errors.add(err.message));

  const sweeper = setInterval(() => {
    const now = performance.now();
    for (const [seq, at] of inFlight) {
      if (now - at > spec.lossTimeoutMs) {
        inFlight.delete(seq);
        lost++;
        sendOne();
      }
    }
  }, 10);
  for (let i = 0; i < spec.window; i++) sendOne();
  await new Promise((r) => setTimeout(r, spec.durationMs));
  sending = false;
  const seconds = (performance.now() - started) / 1000;
  const receivedInTime = received;
  const drainUntil = performance.now() + spec.lossTimeoutMs * 2;
  while (inFlight.size > 0 && performance.now() < drainUntil) await new Promise((r) => setTimeout(r, 10));
  clearInterval(sweeper);
  lost += inFlight.size;
  socket.close();
  return {
    mode: 'udp',
    ...errors.result,
    sent,
    received,
    lost,
    late,
    lossPercent: sent > 0 ? (100 * lost) / sent : 0,
    datagramsPerSecond: receivedInTime / seconds,
    rttMs: percentiles(rtts),
  };
}
