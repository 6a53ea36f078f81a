/**
 * A frozen listener (issue 13): control channels that are open but never read, one the only
 * listener of its hybrid connection, one in a pool. The attacker (also a sender) fires 2,000 POSTs
 * with inline-sized bodies (60 KB) at the first, giving up on each after a short wait.
 */
import { request } from 'node:http';
import { rawUpgrade } from '../kit/raw-ws.js';
import { param, pool, type Flood, type FloodContext } from './flood.js';

function post(ctx: FloodContext, body: Buffer, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: param<number>(ctx, 'port'),
        localAddress: param<string>(ctx, 'source', '127.0.0.4'),
        method: 'POST',
        path: `/${param<string>(ctx, 'entity')}/inline`,
        agent: false,
        headers: { ServiceBusAuthorization: param<string>(ctx, 'sendToken'), 'Content-Length': String(body.length) },
      },
      (res) => {
        ctx.count(`status:${res.statusCode}`);
        res.resume();
        res.on('end', done);
      },
    );
    const timer = setTimeout(() => {
      ctx.count('gave up');
      req.destroy();
      done();
    }, timeoutMs);
    function done() {
      clearTimeout(timer);
      resolve();
    }
    req.on('error', done);
    req.end(body);
  });
}

/** A control channel that is never read (the socket stays paused). */
async function frozenChannel(ctx: FloodContext, entity: string, token: string): Promise<void> {
  const port = param<number>(ctx, 'port');
  const control = await rawUpgrade({ host: '127.0.0.1', port, localAddress: param<string>(ctx, 'source', '127.0.0.4') }, `/$hc/${entity}?sb-hc-action=listen&sb-hc-id=frozen`, { ServiceBusAuthorization: token });
  if (control.status !== 101) throw new Error(`listen refused: ${control.status}`);
  ctx.hold(control.socket);
  control.socket.on('error', () => undefined);
}

export const frozenListener: Flood = async (ctx) => {
  await frozenChannel(ctx, param<string>(ctx, 'entity'), param<string>(ctx, 'listenToken'));
  await frozenChannel(ctx, param<string>(ctx, 'poolEntity'), param<string>(ctx, 'poolListenToken'));
  const body = Buffer.alloc(param<number>(ctx, 'bodyBytes', 60_000), 0x62);
  return async () => {
    await pool(ctx, param<number>(ctx, 'concurrency', 40), () => post(ctx, body, param<number>(ctx, 'giveUpMs', 1500)), param<number>(ctx, 'requests', 2000));
    ctx.count('requests done');
  };
};
