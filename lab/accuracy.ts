/**
 * Measures how accurate the lab's impairments are on this machine (the figures in docs/lab.md):
 * TCP ping-pong round trips across client <-> relay <-> service at several one-way delays, alone
 * and beside a bulk TCP stream on the same links, with nfq-impair real-time and not; UDP loss at
 * 1 % and 10 %; the packet rate one impaired link carries. Usage (root):
 *   node dist/lab/accuracy.js [--pings N]
 */
import { Lab, tcpPingPong, threeSites, udpCount, type LinkImpairment } from './index.js';
import { LineProcess } from './line-process.js';
import type { LabNode } from './node.js';

const pings = Number(process.argv[process.argv.indexOf('--pings') + 1]) || 50;

function line(text: string): void {
  process.stdout.write(`${text}\n`);
}

async function withLab<T>(links: LinkImpairment, realtime: boolean, body: (lab: Lab) => Promise<T>): Promise<T> {
  const lab = await Lab.create(threeSites({ clientRelay: links, relayService: links }), { realtime });
  try {
    return await body(lab);
  } finally {
    await lab.destroy();
  }
}

/** An iperf3 stream client -> service for `seconds`; resolves with its bits per second. */
async function iperf(client: LabNode, service: LabNode, seconds: number): Promise<number> {
  const server = new LineProcess('iperf3 -s', service.spawn('iperf3', ['-s', '-1', '-B', service.address]));
  await new Promise((r) => setTimeout(r, 300));
  try {
    const out = await client.exec('iperf3', ['-c', service.address, '-t', String(seconds), '-J'], { timeoutMs: (seconds + 20) * 1000 });
    return (JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second;
  } finally {
    await server.stop();
  }
}

async function rtts(delayMs: number, realtime: boolean, busy: boolean): Promise<void> {
  await withLab({ delayMs }, realtime, async (lab) => {
    const [client, service] = [lab.node('client'), lab.node('service')];
    const stream = busy ? iperf(client, service, 8) : undefined;
    if (busy) await new Promise((r) => setTimeout(r, 2000));
    const r = await tcpPingPong(client, service, { count: pings });
    const rate = stream ? await stream : undefined;
    const configured = 4 * delayMs;
    line(
      `rtt ${configured.toFixed(3).padStart(7)} ms configured, ${realtime ? 'realtime' : 'normal  '}${busy ? `, beside a ${(rate! / 8e6).toFixed(1)} MB/s stream` : ''}: ` +
        `min ${r.min.toFixed(2)} p50 ${r.p50.toFixed(2)} p99 ${r.p99.toFixed(2)} max ${r.max.toFixed(2)} ms (p50 +${(r.p50 - configured).toFixed(2)} ms)`,
    );
  });
}

async function main(): Promise<void> {
  line(`${pings} round trips per figure; load average ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  for (const delayMs of [0.001, 1, 10, 40]) for (const realtime of [true, false]) await rtts(delayMs, realtime, false);
  for (const realtime of [true, false]) await rtts(40, realtime, true);
  for (const lossPercent of [1, 10]) {
    await withLab({}, true, async (lab) => {
      await lab.link('client', 'relay').set({ aToB: { lossPercent } });
      const { sent, received } = await udpCount(lab.node('client'), lab.node('service'), { count: 20_000 });
      line(`loss ${lossPercent} % configured: ${(100 * (1 - received / sent)).toFixed(2)} % of ${sent} datagrams lost`);
    });
  }
  for (const delayMs of [0.001, 10, 40]) {
    await withLab({ delayMs }, true, async (lab) => {
      const bps = await iperf(lab.node('client'), lab.node('service'), 8);
      const stats = await lab.link('client', 'relay').stats();
      line(`one TCP stream across both links at ${delayMs} ms one way: ${(bps / 8e6).toFixed(1)} MB/s; client->relay queue: ${stats.aToB.passed} packets passed, ${stats.aToB.overflow} overflowed, ${stats.aToB.userDropped} dropped by the socket`);
    });
  }
  await withLab({}, true, async (lab) => {
    const bps = await iperf(lab.node('client'), lab.node('service'), 5);
    line(`the same without any impairer on the links: ${(bps / 8e6).toFixed(1)} MB/s`);
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`accuracy: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
