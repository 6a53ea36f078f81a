import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { ConnectionLifecycle } from '../../src/forwarding/lifecycle/connection-lifecycle.js';
import type { TrackedConnection } from '../../src/forwarding/lifecycle/tracked-connection.js';
import { pumpTracked } from '../../src/forwarding/pump-tracked.js';
import { waitFor } from '../helpers/async.js';
import { capturingLogger } from '../helpers/capturing-logger.js';

function lifecycle() {
  const captured = capturingLogger();
  return { ...captured, lifecycle: new ConnectionLifecycle(captured.log) };
}

describe('connection lifecycle', () => {
  test('one closing line with the vocabulary, the child logger fields and the byte counts of both directions', () => {
    const { lifecycle: l, lines } = lifecycle();
    const c = l.open({ role: 'sender', fields: { hyco: 'db', port: 'sql', client: '127.0.0.1:5000' }, abort: () => undefined });
    c.update({ trackingId: 't-1' });
    c.toRelay += 10;
    c.fromRelay += 32;
    c.log.info('something in between');
    c.end({ end: 'closed' });
    c.end({ end: 'relay-error' });
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(records.length, 2, 'a second end() is ignored');
    assert.deepEqual({ ...records[0], time: undefined, level: undefined }, { time: undefined, level: undefined, hyco: 'db', port: 'sql', client: '127.0.0.1:5000', trackingId: 't-1', msg: 'something in between' });
    const end = records[1]!;
    assert.equal(end.msg, 'connection ended');
    assert.equal(end.bytesToListener, 10, 'a sender sends towards the listener');
    assert.equal(end.bytesToSender, 32);
    assert.equal(end.end, 'closed');
    assert.equal(typeof end.durationMs, 'number');
    assert.equal(l.size, 0);
  });

  test('a listener counts the other way round, and a failure is a warning', () => {
    const { lifecycle: l, lines } = lifecycle();
    const c = l.open({ role: 'listener', fields: { hyco: 'db' }, abort: () => undefined });
    c.toRelay += 7;
    c.fromRelay += 3;
    c.end({ end: 'target-unreachable', reason: 'nope' });
    const end = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(end.msg, 'connection failed');
    assert.equal(end.level, 40);
    assert.deepEqual([end.bytesToListener, end.bytesToSender, end.reason], [3, 7, 'nope']);
  });

  test('observers see open, set-up, dials and ends', () => {
    const { lifecycle: l } = lifecycle();
    const seen: string[] = [];
    l.observe({
      opened: (c) => seen.push(`opened ${c.forwarder}`),
      established: (c) => seen.push(`established ${typeof c.setupMs}`),
      dialed: (_c, _ms, code) => seen.push(`dialed ${code ?? 'ok'}`),
      ended: (_c, outcome) => seen.push(`ended ${outcome.end}`),
    });
    const c = l.open({ role: 'listener', fields: { hyco: 'h', port: 'p' }, abort: () => undefined });
    c.dialed(5, 'connection_refused');
    c.dialed(5);
    c.established();
    c.established();
    c.end({ end: 'closed' });
    assert.deepEqual(seen, ['opened h:p', 'dialed connection_refused', 'dialed ok', 'established number', 'ended closed']);
  });

  test('drain resolves as soon as the last connection ends, without cutting it', async () => {
    const { lifecycle: l } = lifecycle();
    let aborted = 0;
    const a = l.open({ role: 'sender', fields: {}, abort: () => aborted++ });
    const b = l.open({ role: 'sender', fields: {}, abort: () => aborted++ });
    setTimeout(() => a.end({ end: 'closed' }), 20);
    setTimeout(() => b.end({ end: 'closed' }), 40);
    const started = Date.now();
    const cut = await l.drain(60_000);
    assert.equal(cut, 0);
    assert.equal(aborted, 0);
    assert.ok(Date.now() - started < 10_000, 'woken by the end, not by the grace period');
  });

  test('drain cuts what outlives the grace period, and ends datagram flows at once', async () => {
    const { lifecycle: l } = lifecycle();
    const cutOnes: string[] = [];
    const stuck: TrackedConnection = l.open({ role: 'listener', fields: { hyco: 'stuck' }, abort: () => cutOnes.push('stream') });
    const flow: TrackedConnection = l.open({ role: 'listener', kind: 'datagram', fields: { hyco: 'udp' }, abort: () => (cutOnes.push('datagram'), flow.end({ end: 'shutdown' })) });
    const draining = l.drain(50);
    assert.deepEqual(cutOnes, ['datagram'], 'the UDP flow ended before the wait');
    assert.equal(await draining, 1);
    assert.deepEqual(cutOnes, ['datagram', 'stream']);
    stuck.end({ end: 'cut' });
  });

  test('whenIdle waits for the matching kind only', async () => {
    const { lifecycle: l } = lifecycle();
    const stream = l.open({ role: 'relay', fields: {}, abort: () => undefined });
    const http = l.open({ role: 'relay', kind: 'http', fields: {}, abort: () => undefined });
    const idle = l.whenIdle(5000, (c) => c.kind === 'http');
    http.end({ end: 'closed', quiet: true });
    assert.equal(await idle, true);
    assert.equal(await l.whenIdle(10), false, 'the stream is still open');
    stream.end({ end: 'closed' });
  });

  test('pumpTracked counts every byte into the connection (read live, as metrics do) and ends it with the outcome', async () => {
    const { lifecycle: l, lines } = lifecycle();
    const [local, localPeer] = await socketPair();
    const [relayed, relayedPeer] = await socketPair();
    const c = l.open({ role: 'sender', fields: { hyco: 'x' }, abort: () => undefined });
    const pumping = pumpTracked(local, relayed, c);
    relayedPeer.resume();
    localPeer.resume();
    localPeer.write(Buffer.alloc(1000));
    relayedPeer.write(Buffer.alloc(300));
    await waitFor(() => c.bytesToListener === 1000 && c.bytesToSender === 300, 5000, 'bytes counted while the connection is open');
    localPeer.end();
    relayedPeer.end();
    const result = await pumping;
    assert.equal(result.bytesToRelay, 1000);
    const end = JSON.parse(lines.at(-1)!) as Record<string, unknown>;
    assert.deepEqual([end.bytesToListener, end.bytesToSender, end.end], [1000, 300, 'closed']);
  });
});

/** Two ends of a loopback TCP connection, half-close allowed. */
async function socketPair(): Promise<[Socket, Socket]> {
  const server = createServer({ allowHalfOpen: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const client = connect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true });
  const [peer] = await accepted;
  await once(client, 'connect');
  server.close();
  return [client, peer];
}
