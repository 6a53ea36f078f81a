/**
 * Child-process entry: runs a test relay on its own, so its memory can be measured without the
 * test's senders and listeners in the same heap. Prints `READY <port>`, then every 25 ms
 * `MEM <heapUsed + arrayBuffers> <rss>`. Exits on SIGTERM/SIGINT or after its time limit.
 * Usage: node protocol-relay-process.js '<json StartRelayOptions + { limitMs }>'
 */
import { startRelay, type StartRelayOptions } from '../helpers/relay.js';

const options = JSON.parse(process.argv[2] ?? '{}') as StartRelayOptions & { limitMs?: number };
const relay = await startRelay(options);
process.stdout.write(`READY ${relay.port}\n`);
const sampler = setInterval(() => {
  const m = process.memoryUsage();
  process.stdout.write(`MEM ${m.heapUsed + m.arrayBuffers} ${m.rss}\n`);
}, 25);

async function stop(): Promise<void> {
  clearInterval(sampler);
  await relay.stop();
  process.exit(0);
}
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
setTimeout(() => void stop(), options.limitMs ?? 60_000).unref();
