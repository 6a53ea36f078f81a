/**
 * Rapid connect/disconnect churn (issue 13): TCP connections cut at once or mid-request,
 * listeners that connect and vanish, senders that leave before or right after they are paired,
 * HTTP requests abandoned mid-way; from many source addresses, as fast as it goes.
 */
import { request } from 'node:http';
import { rawConnect, rawUpgrade } from '../kit/raw-ws.js';
import { param, pool, sleep, sources, type Flood, type FloodContext } from './flood.js';

export const churn: Flood = async (ctx: FloodContext) => {
  const port = param<number>(ctx, 'port');
  const addresses = sources(param<number>(ctx, 'firstSource', 30), param<number>(ctx, 'clients', 8));
  const target = (i: number) => ({ host: '127.0.0.1', port, localAddress: addresses[i % addresses.length] });
  const listenPath = `/$hc/${param<string>(ctx, 'listenEntity')}?sb-hc-action=listen`;
  const senderPath = `/$hc/${param<string>(ctx, 'anonymousEntity')}?sb-hc-action=connect`;
  const ops: ((i: number) => Promise<void>)[] = [
    async (i) => void (await rawConnect(target(i))).destroy(),
    async (i) => {
      const s = await rawConnect(target(i));
      s.write('GET /$hybridge/heal');
      await sleep(5);
      s.destroy();
    },
    async (i) => {
      const up = await rawUpgrade(target(i), listenPath, { ServiceBusAuthorization: param<string>(ctx, 'listenToken') });
      ctx.count(`listen:${up.status}`);
      up.socket.destroy();
    },
    async (i) => {
      const up = await rawUpgrade(target(i), senderPath);
      ctx.count(`sender:${up.status}`);
      await sleep(i % 3);
      up.socket.destroy();
    },
    async (i) => {
      const s = await rawConnect(target(i));
      s.write(`GET ${senderPath} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      // Leaves while the relay is still finding it a listener.
      s.destroy();
    },
    (i) =>
      new Promise<void>((resolve) => {
        const req = request({ ...target(i), method: 'POST', path: `/${param<string>(ctx, 'anonymousEntity')}/x`, agent: false, headers: { 'Content-Length': '100000' } });
        req.on('error', () => resolve());
        req.write(Buffer.alloc(1000));
        setTimeout(() => {
          req.destroy();
          resolve();
        }, 3);
      }),
  ];
  return async () => {
    await pool(ctx, param<number>(ctx, 'concurrency', 16), async (i) => {
      await ops[i % ops.length]!(i);
      ctx.count('ops');
    });
  };
};
