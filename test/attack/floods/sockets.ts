/**
 * Descriptors (issue 13): sockets that never finish a request. Silent ones, slowloris (a header
 * byte every half second), pipelined requests whose answers are never read, and bodies trickled
 * after a 401 or a 404; and a flood of 1,100 sockets from one address.
 */
import type { Socket } from 'node:net';
import { rawConnect } from '../kit/raw-ws.js';
import { param, pool, type Flood, type FloodContext } from './flood.js';

async function open(ctx: FloodContext, what: string): Promise<Socket> {
  const socket = ctx.hold(await rawConnect({ host: '127.0.0.1', port: param<number>(ctx, 'port'), localAddress: param<string>(ctx, 'source', '127.0.0.3') }));
  socket.on('error', () => undefined);
  socket.on('close', () => ctx.count(`closed by relay:${what}`));
  ctx.count(`opened:${what}`);
  return socket;
}

export const holdSockets: Flood = async (ctx) => {
  const n = param<number>(ctx, 'each', 100);
  const trickles: (() => void)[] = [];
  const kinds: [string, (s: Socket) => void][] = [
    ['silent', () => undefined],
    [
      'slowloris',
      (s) => {
        s.write('GET /$hybridge/health HTTP/1.1\r\nHost: x\r\n');
        trickles.push(() => s.write('X-a: b\r\n'));
      },
    ],
    [
      'non-reading',
      (s) => {
        s.pause();
        s.write('GET /$hybridge/health HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(10));
      },
    ],
    [
      'trickle-401',
      (s) => {
        s.write(`POST /${param<string>(ctx, 'entity')}/x HTTP/1.1\r\nHost: x\r\nServiceBusAuthorization: SharedAccessSignature sr=x&sig=bad&se=9999999999&skn=none\r\nContent-Length: 1000000\r\n\r\n`);
        trickles.push(() => s.write('z'));
      },
    ],
    [
      'trickle-404',
      (s) => {
        s.write('POST /no-such-hyco/x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n');
        trickles.push(() => s.write('z'));
      },
    ],
  ];
  for (const [what, start] of kinds) {
    for (let i = 0; i < n; i++) start(await open(ctx, what));
  }
  const timer = setInterval(() => {
    for (const t of trickles) t();
  }, 500);
  return async () => {
    while (!ctx.stopped()) await new Promise((r) => setTimeout(r, 100));
    clearInterval(timer);
  };
};

export const connectionFlood: Flood = async (ctx) => {
  const count = param<number>(ctx, 'count', 1100);
  return async () => {
    await pool(ctx, 50, async () => void (await open(ctx, 'flood')), count);
    while (!ctx.stopped()) await new Promise((r) => setTimeout(r, 100));
  };
};
