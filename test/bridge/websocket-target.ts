/**
 * A real `ws` WebSocketServer as the target behind `hybridge bridge -H`: it echoes every message
 * with its type, records what it saw (path, headers, sub-protocol, each message's type, length and
 * SHA-256, the Close it got), and by path refuses the upgrade (`/refuse`: 403), closes first
 * (`/close-first?code=&reason=`), stops reading (`/slow`) or floods its client (`/flood?mib=`).
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { track } from './bridge-kit.js';
import { Digest, patternBytes, sha256 } from '../helpers/data.js';

export interface SeenMessage {
  binary: boolean;
  length: number;
  sha256: string;
}

export interface TargetSession {
  url: string;
  /** The address the bridge connected from. */
  remoteAddress: string | undefined;
  headers: IncomingMessage['headers'];
  protocol: string;
  ws: WebSocket;
  messages: SeenMessage[];
  /** Every byte received, in order (for the flood checks). */
  digest: Digest;
  pongs: Buffer[];
  closed?: { code: number; reason: string };
}

export interface WebSocketTarget {
  port: number;
  sessions: TargetSession[];
  close(): Promise<void>;
}

export const FLOOD_MESSAGE_BYTES = 1024 * 1024;

export async function startWebSocketTarget(): Promise<WebSocketTarget> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((_req, res) => res.writeHead(426).end());
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  // Prefers the second protocol offered, so that "the first one" is visibly not what the client got.
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024, handleProtocols: (offered) => [...offered][1] ?? [...offered][0] ?? false });
  const target: WebSocketTarget = {
    port: 0,
    sessions: [],
    close: async () => {
      for (const s of sockets) s.destroy();
      wss.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    if (req.url?.startsWith('/refuse')) {
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => serve(target, ws, req));
  });
  track(target);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  target.port = (server.address() as AddressInfo).port;
  return target;
}

function serve(target: WebSocketTarget, ws: WebSocket, req: IncomingMessage): void {
  const session: TargetSession = { url: req.url ?? '', remoteAddress: req.socket.remoteAddress, headers: req.headers, protocol: ws.protocol, ws, messages: [], digest: new Digest(), pongs: [] };
  target.sessions.push(session);
  const url = new URL(session.url, 'http://target');
  ws.on('error', () => undefined);
  ws.on('pong', (data: Buffer) => session.pongs.push(data));
  ws.on('close', (code: number, reason: Buffer) => (session.closed = { code, reason: reason.toString('utf8') }));
  ws.on('message', (data: Buffer, binary: boolean) => {
    session.messages.push({ binary, length: data.length, sha256: sha256(data) });
    session.digest.update(data);
    if (url.pathname.startsWith('/echo')) ws.send(data, { binary });
  });
  if (url.pathname === '/slow') ws.pause();
  if (url.pathname === '/close-first') ws.close(Number(url.searchParams.get('code')), url.searchParams.get('reason') ?? '');
  if (url.pathname === '/flood') {
    const count = Number(url.searchParams.get('mib'));
    for (let i = 0; i < count; i++) ws.send(patternBytes(FLOOD_MESSAGE_BYTES, i + 1), { binary: true });
  }
}
