/**
 * Ping floods (issue 13): a peer that sends WebSocket Pings as fast as the relay reads them and
 * never reads the Pongs. On a sender leg (anonymously, on a hybrid connection without client
 * authorization), on a listener control channel (with a Listen token), and on a request rendezvous.
 */
import type { Socket } from 'node:net';
import { request } from 'node:http';
import { clientFrame, floodFrames, OP, rawUpgrade } from '../kit/raw-ws.js';
import { param, type Flood, type FloodContext } from './flood.js';

/** 512 pings with the largest payload a control frame may carry. */
const PINGS = Buffer.concat(Array.from({ length: 512 }, () => clientFrame(OP.ping, Buffer.alloc(125, 0x61))));

function flood(ctx: FloodContext, sockets: Socket[]): () => Promise<void> {
  return async () => {
    const sent = await Promise.all(sockets.map((s) => floodFrames(s, PINGS, ctx.stopped)));
    ctx.count('ping bytes', sent.reduce((a, b) => a + b, 0));
  };
}

async function openAll(ctx: FloodContext, path: string, headers: Record<string, string>): Promise<Socket[]> {
  const host = '127.0.0.1';
  const port = param<number>(ctx, 'port');
  const n = param<number>(ctx, 'connections', 4);
  const source = param<string>(ctx, 'source', '127.0.0.2');
  const sockets: Socket[] = [];
  for (let i = 0; i < n; i++) {
    const up = await rawUpgrade({ host, port, localAddress: source }, path, headers);
    if (up.status !== 101) throw new Error(`the relay answered ${up.status} to ${path}`);
    // Paused and never resumed: the relay's Pongs are never read.
    sockets.push(ctx.hold(up.socket));
  }
  ctx.count('connections', sockets.length);
  return sockets;
}

export const pingSenderLeg: Flood = async (ctx) => flood(ctx, await openAll(ctx, `/$hc/${param<string>(ctx, 'entity')}?sb-hc-action=connect`, {}));

export const pingControlChannel: Flood = async (ctx) =>
  flood(ctx, await openAll(ctx, `/$hc/${param<string>(ctx, 'entity')}?sb-hc-action=listen`, { ServiceBusAuthorization: param<string>(ctx, 'listenToken') }));

/** Text messages the relay sends on a socket (server frames are not masked). */
function onServerText(socket: Socket, head: Buffer, onText: (text: string) => void): void {
  let buffered = head;
  const parse = () => {
    for (;;) {
      if (buffered.length < 2) return;
      let length = buffered[1]! & 0x7f;
      let at = 2;
      if (length === 126) {
        if (buffered.length < 4) return;
        length = buffered.readUInt16BE(2);
        at = 4;
      } else if (length === 127) {
        if (buffered.length < 10) return;
        length = Number(buffered.readBigUInt64BE(2));
        at = 10;
      }
      if (buffered.length < at + length) return;
      if ((buffered[0]! & 0x0f) === OP.text) onText(buffered.subarray(at, at + length).toString('utf8'));
      buffered = buffered.subarray(at + length);
    }
  };
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    parse();
  });
  socket.resume();
  parse();
}

/**
 * The attacker is the listener: it sends itself a request with a chunked body (which goes over a
 * request rendezvous), opens the rendezvous the relay offers it, and floods it with pings.
 */
export const pingRendezvous: Flood = async (ctx) => {
  const port = param<number>(ctx, 'port');
  const entity = param<string>(ctx, 'entity');
  const source = param<string>(ctx, 'source', '127.0.0.2');
  const control = await rawUpgrade({ host: '127.0.0.1', port, localAddress: source }, `/$hc/${entity}?sb-hc-action=listen`, { ServiceBusAuthorization: param<string>(ctx, 'listenToken') });
  if (control.status !== 101) throw new Error(`listen refused: ${control.status}`);
  ctx.hold(control.socket);
  const n = param<number>(ctx, 'connections', 4);
  const addresses: string[] = [];
  onServerText(control.socket, control.head, (text) => {
    const address = (JSON.parse(text) as { request?: { address?: string } }).request?.address;
    if (address) addresses.push(address);
  });
  for (let i = 0; i < n; i++) {
    const req = request({ host: '127.0.0.1', port, localAddress: source, method: 'POST', path: `/${entity}/upload`, agent: false, headers: { ServiceBusAuthorization: param<string>(ctx, 'sendToken'), 'Transfer-Encoding': 'chunked' } });
    req.on('error', () => undefined);
    req.write('a body that keeps coming');
    ctx.hold(req);
  }
  const deadline = Date.now() + 5000;
  while (addresses.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const sockets: Socket[] = [];
  for (const address of addresses) {
    const url = new URL(address);
    const up = await rawUpgrade({ host: '127.0.0.1', port, localAddress: source }, `${url.pathname}${url.search}`);
    if (up.status !== 101) throw new Error(`request rendezvous refused: ${up.status}`);
    sockets.push(ctx.hold(up.socket));
  }
  // The control channel is not read from now on either.
  control.socket.pause();
  ctx.count('rendezvous', sockets.length);
  return flood(ctx, sockets);
};
