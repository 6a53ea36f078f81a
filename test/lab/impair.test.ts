/**
 * The lab's user-space link impairments (nfq-impair): the delay a TCP ping-pong measures, a delay
 * changed while a connection runs, loss counted datagram by datagram, and the queue bound.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Lab, PingSession, tcpPingPong, threeSites, udpCount, type LinkStats } from '../../lab/index.js';
import { delay, withTimeout } from '../helpers/async.js';
import { spawnProcess, stopAll } from '../helpers/processes.js';
import { skipLab } from './helpers.js';

function delta(after: LinkStats, before: LinkStats, direction: keyof LinkStats, field: keyof LinkStats['aToB']): number {
  return after[direction][field] - before[direction][field];
}

describe('network-fault lab: delay and loss', { skip: skipLab }, () => {
  const labs: Lab[] = [];
  after(async () => {
    await stopAll();
    await Promise.all(labs.map((l) => l.destroy()));
  });

  test('a TCP ping-pong across 2 x 10 ms one way takes 40-60 ms and never less than 40; a delay changed under a live connection applies to it', async (t) => {
    const lab = await Lab.create(threeSites({ clientRelay: { delayMs: 10 }, relayService: { delayMs: 10 } }));
    labs.push(lab);
    const [client, service] = [lab.node('client'), lab.node('service')];
    const rtt = await tcpPingPong(client, service, { count: 20 });
    t.diagnostic(`configured 40 ms round trip: min ${rtt.min.toFixed(2)}, p50 ${rtt.p50.toFixed(2)}, max ${rtt.max.toFixed(2)} ms; connect ${rtt.connectMs.toFixed(2)} ms`);
    assert.ok(rtt.min >= 40, `no round trip is faster than the configured delay: min ${rtt.min}`);
    assert.ok(rtt.p50 <= 60, `p50 ${rtt.p50} ms within the generous bound`);
    assert.ok(rtt.connectMs >= 40, `the TCP handshake is delayed too: ${rtt.connectMs} ms`);

    const session = await PingSession.open(client, service);
    try {
      const before = (await session.ping(5000))!;
      await lab.link('client', 'relay').set({ delayMs: 5 });
      await lab.link('relay', 'service').set({ aToB: { delayMs: 5 }, bToA: { delayMs: 5 } });
      const pings: number[] = [];
      for (let i = 0; i < 5; i++) pings.push((await session.ping(5000))!);
      const median = [...pings].sort((a, b) => a - b)[2]!;
      t.diagnostic(`same connection: ${before.toFixed(2)} ms at 2 x 10 ms, then ${pings.map((p) => p.toFixed(2)).join(', ')} ms at 2 x 5 ms`);
      assert.ok(before >= 40 && before <= 60, `before the change: ${before} ms`);
      assert.ok(Math.min(...pings) >= 20 && median <= 35, `after the change: ${pings.join(', ')} ms`);
      assert.deepEqual(lab.link('relay', 'service').impairment(), { aToB: { delayMs: 5, lossPercent: 0 }, bToA: { delayMs: 5, lossPercent: 0 } });
    } finally {
      await session.close();
    }
  });

  test('10 % loss client -> relay: the datagram count lands in a wide band, nfq-impair counted every drop, the other direction lost none', async (t) => {
    const lab = await Lab.create(threeSites({ clientRelay: { aToB: { lossPercent: 10 } } }), { seed: 42 });
    labs.push(lab);
    const link = lab.link('client', 'relay');
    const before = await link.stats();
    const { sent, received } = await udpCount(lab.node('client'), lab.node('service'), { count: 2000 });
    const stats = await link.stats();
    t.diagnostic(`sent ${sent}, received ${received} (${(100 - (100 * received) / sent).toFixed(1)} % lost); nfq-impair: ${delta(stats, before, 'aToB', 'lost')} dropped`);
    assert.equal(sent, 2000);
    assert.ok(received >= 1700 && received <= 1900, `received ${received} of 2000 at 10 % loss`);
    assert.equal(delta(stats, before, 'aToB', 'received'), sent, 'every datagram went through the queue');
    assert.equal(delta(stats, before, 'aToB', 'lost'), sent - received, 'every missing datagram was dropped by the loss share, none elsewhere');
    assert.equal(stats.bToA.lost, 0);
    assert.equal(stats.aToB.overflow + stats.aToB.userDropped, 0);
  });

  test('the queue is bounded: past queueLimit held packets the kernel drops new ones (tail drop) and counts them', async (t) => {
    const lab = await Lab.create(threeSites({ clientRelay: { aToB: { delayMs: 300 } } }), { queueLimit: 100 });
    labs.push(lab);
    const link = lab.link('client', 'relay');
    // 400 datagrams leave within a few ms, long before the first is released after 300 ms.
    const { sent, received } = await udpCount(lab.node('client'), lab.node('service'), { count: 400, batch: 400, settleMs: 800 });
    const stats = await link.stats();
    t.diagnostic(`sent ${sent}, ${stats.aToB.passed} passed after 300 ms, ${stats.aToB.overflow} dropped at the full queue, ${received} received`);
    assert.ok(received <= 100, `at most queueLimit datagrams got through: ${received}`);
    assert.ok(stats.aToB.overflow >= 250, `overflow counted: ${stats.aToB.overflow}`);
    assert.equal(stats.aToB.passed + stats.aToB.overflow, sent, 'every datagram either passed or overflowed');
    assert.equal(received, stats.aToB.passed);
  });

  test('a TCP stream keeps a whole window in flight on a delayed link (packets are held at the receiver, not charged to the sending socket)', async (t) => {
    const lab = await Lab.create(threeSites({ clientRelay: { delayMs: 20 }, relayService: { delayMs: 20 } }));
    labs.push(lab);
    const [client, service] = [lab.node('client'), lab.node('service')];
    const server = spawnProcess(...service.wrap('iperf3', ['-s', '-1', '-B', service.address]));
    await service.waitForPort(5201, 5000);
    const stream = spawnProcess(...client.wrap('iperf3', ['-c', service.address, '-t', '2']));
    let held = 0;
    for (let i = 0; i < 15; i++) {
      await delay(100);
      held = Math.max(held, (await lab.link('client', 'relay').stats()).aToB.held);
    }
    await withTimeout(Promise.all([stream.exited, server.exited]), 15_000, 'iperf3');
    t.diagnostic(`at most ${held} packets of one TCP stream held on the 20 ms client -> relay direction at once`);
    // Charged to the sender's socket (held at its egress), TCP's small-queue limit kept this to a handful.
    assert.ok(held >= 200, `a full window in flight: ${held} packets held`);
  });
});
