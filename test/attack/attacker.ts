/**
 * The attack suite's hostile client, a process of its own: `node attacker.js <kind> '<json>'`.
 * Prints READY once set up, floods until SIGTERM, then prints `STATS {json}` and exits (its
 * sockets go with it). Every flood is bounded by its parameters and by `limitMs`.
 */
import type { Flood, FloodContext } from './floods/flood.js';
import { churn } from './floods/churn.js';
import { frozenListener } from './floods/frozen.js';
import { longPaths, managementAuth } from './floods/http-floods.js';
import { malformed } from './floods/malformed.js';
import { pingControlChannel, pingRendezvous, pingSenderLeg } from './floods/ping.js';
import { connectionFlood, holdSockets } from './floods/sockets.js';

const FLOODS: Record<string, Flood> = {
  'ping-sender': pingSenderLeg,
  'ping-control': pingControlChannel,
  'ping-rendezvous': pingRendezvous,
  'long-paths': longPaths,
  'management-auth': managementAuth,
  'hold-sockets': holdSockets,
  'connection-flood': connectionFlood,
  'frozen-listener': frozenListener,
  malformed,
  churn,
};

const [kind, json] = process.argv.slice(2);
const flood = FLOODS[kind ?? ''];
if (!flood) {
  process.stderr.write(`unknown attack ${kind}; one of ${Object.keys(FLOODS).join(', ')}\n`);
  process.exit(2);
}
const params = JSON.parse(json ?? '{}') as Record<string, unknown>;
let stopped = false;
const counters: Record<string, number> = {};
const held = new Set<{ destroy(): void }>();
const ctx: FloodContext = {
  params,
  stopped: () => stopped,
  count: (what, n = 1) => (counters[what] = (counters[what] ?? 0) + n),
  hold: (socket) => {
    held.add(socket);
    return socket;
  },
};

function finish(): void {
  if (stopped) return;
  stopped = true;
  process.stdout.write(`STATS ${JSON.stringify(counters)}\n`);
  for (const socket of held) socket.destroy();
  setTimeout(() => process.exit(0), 50).unref();
}
process.on('SIGTERM', finish);
process.on('SIGINT', finish);
process.on('uncaughtException', (err) => ctx.count(`uncaught:${err.message.slice(0, 40)}`));
setTimeout(finish, Number(params.limitMs ?? 60_000)).unref();

// Stays until told to stop, also when a bounded flood is done: its sockets stay open until then.
setInterval(() => undefined, 1000);
const run = await flood(ctx);
process.stdout.write('READY\n');
await run();
