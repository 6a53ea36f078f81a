/**
 * The hyco-ws baseline: a TCP forwarder pair built on the unmodified `hyco-ws@1.0.5` library (the
 * Azure Relay Node.js WebSocket client), so the same driver and target measure it.
 *   listener: a hyco-ws relayed server; each accepted WebSocket is connected to the TCP target.
 *   sender:   a local TCP port; each connection opens a hyco-ws WebSocket to the relay.
 * Usage: node hyco-ws-forwarder.js '<JSON: {role, relayBase, hyco, keyName, key, target?}>'.
 * Prints {"ready":true,"port":N}. TLS relays are trusted through NODE_EXTRA_CA_CERTS.
 */
import { createRequire } from 'node:module';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import type { EventEmitter } from 'node:events';

interface Ws1 extends EventEmitter {
  readonly bufferedAmount: number;
  readonly _socket: Socket | null;
  send(data: Buffer, options: { binary: boolean }): void;
  close(code?: number): void;
  terminate(): void;
}

interface HycoWs {
  new (address: string, protocols: null, options: { headers: Record<string, string>; perMessageDeflate: boolean }): Ws1;
  createRelayedServer(options: { server: string; token: () => string; perMessageDeflate: boolean }, onConnection: (ws: Ws1) => void): EventEmitter;
  createRelayToken(uri: string, keyName: string, key: string, expirySeconds?: number): string;
}

interface Options {
  role: 'listener' | 'sender';
  /** ws://HOST:P or wss://HOST:P */
  relayBase: string;
  hyco: string;
  keyName: string;
  key: string;
  target?: { host: string; port: number };
}

const WS = createRequire(import.meta.url)('hyco-ws') as HycoWs;
const HIGH_WATER = 1024 * 1024;

/** Copies bytes both ways with backpressure; either side closing closes the other. */
function pump(ws: Ws1, socket: Socket): void {
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    socket.destroy();
    try {
      ws.close(1000);
    } catch {
      ws.terminate();
    }
  };
  socket.on('data', (chunk: Buffer) => {
    ws.send(chunk, { binary: true });
    if (ws.bufferedAmount > HIGH_WATER && ws._socket) {
      socket.pause();
      ws._socket.once('drain', () => socket.resume());
    }
  });
  ws.on('message', (data: Buffer | string) => {
    if (!socket.write(typeof data === 'string' ? Buffer.from(data) : data) && ws._socket) {
      const raw = ws._socket;
      raw.pause();
      socket.once('drain', () => raw.resume());
    }
  });
  socket.on('end', close);
  socket.on('error', close);
  socket.on('close', close);
  ws.on('close', () => {
    closed = true;
    socket.end();
  });
  ws.on('error', close);
}

function token(o: Options, uri: string): string {
  return WS.createRelayToken(uri, o.keyName, o.key);
}

/** The token audience: http://HOST/hyco, as hyco-ws builds it for the relay's host. */
function audienceOf(o: Options): string {
  return `http://${new URL(o.relayBase).hostname}/${o.hyco}`;
}

function runListener(o: Options): void {
  const listenUri = `${o.relayBase}/$hc/${o.hyco}?sb-hc-action=listen`;
  const audience = audienceOf(o);
  const server = WS.createRelayedServer({ server: listenUri, token: () => token(o, audience), perMessageDeflate: false }, (ws) => {
    // The WebSocket is still connecting (the rendezvous); hold the target's bytes until it opens.
    const socket = connect({ host: o.target!.host, port: o.target!.port, noDelay: true });
    socket.pause();
    socket.on('error', () => ws.terminate());
    ws.on('open', () => {
      pump(ws, socket);
      socket.resume();
    });
    ws.on('error', () => socket.destroy());
  });
  server.on('error', (err: Error) => process.stderr.write(`hyco-ws listener error: ${err.message}\n`));
  server.on('listening', () => process.stdout.write(`${JSON.stringify({ ready: true })}\n`));
}

function runSender(o: Options): void {
  const connectUri = `${o.relayBase}/$hc/${o.hyco}?sb-hc-action=connect`;
  const audience = audienceOf(o);
  const server = createServer({ noDelay: true }, (socket) => {
    socket.pause();
    const ws = new WS(connectUri, null, { headers: { ServiceBusAuthorization: token(o, audience) }, perMessageDeflate: false });
    ws.on('open', () => {
      pump(ws, socket);
      socket.resume();
    });
    ws.on('error', () => socket.destroy());
  });
  server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, () => {
    process.stdout.write(`${JSON.stringify({ ready: true, port: (server.address() as AddressInfo).port })}\n`);
  });
}

const options = JSON.parse(process.argv[2] ?? '{}') as Options;
if (options.role === 'listener') runListener(options);
else if (options.role === 'sender') runSender(options);
else {
  process.stderr.write("usage: hyco-ws-forwarder.js '{\"role\":\"listener\"|\"sender\",...}'\n");
  process.exit(2);
}
process.on('SIGTERM', () => process.exit(0));
