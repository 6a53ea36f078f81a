/**
 * The classics (issue 13): oversized frames and heads, malformed frames and control messages,
 * each case on a connection of its own, over and over. Each counts how the relay answered
 * (HTTP status, or the close code of its Close frame, or a plain close).
 */
import type { Socket } from 'node:net';
import { clientFrame, OP, rawConnect, rawUpgrade } from '../kit/raw-ws.js';
import { param, pool, type Flood } from './flood.js';

/** Waits (bounded) for the relay to end the connection; resolves with the close code it sent, if any. */
function closeCode(socket: Socket, head: Buffer, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    let seen = head;
    const finish = (what: string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(what);
    };
    const look = () => {
      // The first Close frame from the relay (unmasked server frame: 0x88, length, code).
      for (let i = 0; i + 3 < seen.length; i++) if (seen[i] === 0x88 && seen[i + 1]! >= 2 && seen[i + 1]! <= 125) return finish(`close:${seen.readUInt16BE(i + 2)}`);
    };
    const timer = setTimeout(() => finish('still open'), timeoutMs);
    socket.on('data', (c: Buffer) => {
      seen = Buffer.concat([seen, c]).subarray(-4096);
      look();
    });
    socket.on('close', () => finish('closed'));
    socket.on('error', () => undefined);
    socket.resume();
    look();
  });
}

function answerOf(socket: Socket, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const finish = (what: string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(what);
    };
    const timer = setTimeout(() => finish('no answer'), timeoutMs);
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (m) finish(`http:${m[1]}`);
    });
    socket.on('close', () => finish('closed'));
    socket.on('error', () => undefined);
  });
}

export const malformed: Flood = async (ctx) => {
  const port = param<number>(ctx, 'port');
  const source = param<string>(ctx, 'source', '127.0.0.5');
  const listen = () => rawUpgrade({ host: '127.0.0.1', port, localAddress: source }, `/$hc/${param<string>(ctx, 'listenEntity')}?sb-hc-action=listen`, { ServiceBusAuthorization: param<string>(ctx, 'listenToken') });
  const sender = () => rawUpgrade({ host: '127.0.0.1', port, localAddress: source }, `/$hc/${param<string>(ctx, 'anonymousEntity')}?sb-hc-action=connect`);
  const ws = (open: () => ReturnType<typeof listen>, frames: Buffer[]) => async () => {
    const up = await open();
    if (up.status !== 101) return `http:${up.status}`;
    ctx.hold(up.socket);
    up.socket.write(Buffer.concat(frames));
    return closeCode(up.socket, up.head);
  };
  const raw = (bytes: string | Buffer) => async () => {
    const socket = ctx.hold(await rawConnect({ host: '127.0.0.1', port, localAddress: source }));
    socket.write(bytes);
    return answerOf(socket);
  };
  const cases: [string, () => Promise<string>][] = [
    ['control: 1 TB text frame', ws(listen, [clientFrame(OP.text, Buffer.alloc(1000, 0x20), { declaredLength: 2 ** 40 })])],
    ['control: 200 KiB text message', ws(listen, [clientFrame(OP.text, Buffer.alloc(200 * 1024, 0x20))])],
    ['control: not JSON', ws(listen, [clientFrame(OP.text, Buffer.from('{"response": nope'))])],
    ['control: invalid UTF-8', ws(listen, [clientFrame(OP.text, Buffer.from([0x7b, 0xff, 0xfe, 0x7d]))])],
    ['control: stray binary', ws(listen, [clientFrame(OP.binary, Buffer.alloc(10))])],
    ['control: close reason not UTF-8', ws(listen, [clientFrame(OP.close, Buffer.from([0x03, 0xe8, 0xc3, 0x28]))])],
    ['sender: unmasked frame', ws(sender, [clientFrame(OP.binary, Buffer.alloc(10), { masked: false })])],
    ['sender: reserved bits', ws(sender, [Buffer.from([0xc2, 0x80, 0, 0, 0, 0])])],
    ['sender: unknown opcode', ws(sender, [clientFrame(0x3, Buffer.alloc(4))])],
    ['sender: fragmented ping', ws(sender, [clientFrame(OP.ping, Buffer.alloc(4), { fin: false })])],
    ['sender: 126-byte ping', ws(sender, [clientFrame(OP.ping, Buffer.alloc(126))])],
    ['head: 64 KiB header', raw(`GET /$hybridge/health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`)],
    ['head: garbage', raw(Buffer.from([0x00, 0x01, 0x02, 0x0d, 0x0a, 0x0d, 0x0a]))],
    ['head: 20 KB path', raw(`GET /${'x'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`)],
    ['upgrade: version 8', raw(`GET /$hc/${param<string>(ctx, 'anonymousEntity')}?sb-hc-action=connect HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n`)],
  ];
  return async () => {
    await pool(ctx, param<number>(ctx, 'concurrency', 8), async (i) => {
      const [name, run] = cases[i % cases.length]!;
      ctx.count(`${name} -> ${await run()}`);
    });
  };
};
