/**
 * Two ends of a multiplexed session over a real WebSocket on loopback (a TCP pair, WsConnection on
 * each side, HybridConnectionStream as the transport), without a relay: what the session sees is
 * exactly what it sees behind a relay, since the relay copies frames.
 */
import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { HybridConnectionStream } from '../../src/client/hybrid-connection-stream.js';
import { MuxSession, type MuxSessionOptions } from '../../src/mux/session.js';
import type { MuxChannel } from '../../src/mux/mux-channel.js';
import { WsConnection } from '../../src/websocket/connection.js';

export interface TransportPair {
  client: HybridConnectionStream;
  server: HybridConnectionStream;
  clientSocket: Socket;
  serverSocket: Socket;
}

export async function transportPair(): Promise<TransportPair> {
  const server = createServer({ allowHalfOpen: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection');
  const clientSocket = connect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true });
  const [serverSocket] = (await accepted) as [Socket];
  await once(clientSocket, 'connect').catch(() => undefined);
  server.close();
  const client = new HybridConnectionStream(new WsConnection(clientSocket, { role: 'client', zeroMask: true }), { trackingId: 'c' }, undefined, { keepAliveIntervalMs: 0 });
  const srv = new HybridConnectionStream(new WsConnection(serverSocket, { role: 'server' }), { trackingId: 's' }, undefined, { keepAliveIntervalMs: 0 });
  client.on('error', () => undefined);
  srv.on('error', () => undefined);
  return { client, server: srv, clientSocket, serverSocket };
}

export interface MuxPair extends TransportPair {
  initiator: MuxSession;
  acceptor: MuxSession;
  /** Streams the acceptor was given, as HybridConnectionStreams, in order. */
  accepted: HybridConnectionStream[];
  channels: MuxChannel[];
  open(): HybridConnectionStream;
  closed: { initiator?: Error | 'clean'; acceptor?: Error | 'clean' };
  destroy(): void;
}

export async function muxPair(options: { initiator?: Partial<MuxSessionOptions>; acceptor?: Partial<MuxSessionOptions>; onStream?: (stream: HybridConnectionStream) => void } = {}): Promise<MuxPair> {
  const pair = await transportPair();
  const accepted: HybridConnectionStream[] = [];
  const channels: MuxChannel[] = [];
  const closed: MuxPair['closed'] = {};
  const acceptor = new MuxSession(pair.server, {
    keepAliveMs: 0,
    ...options.acceptor,
    role: 'acceptor',
    onStream: (channel) => {
      channels.push(channel);
      const stream = new HybridConnectionStream(channel, { trackingId: `s/${channel.id}` }, undefined, { keepAliveIntervalMs: 0 });
      stream.on('error', () => undefined);
      accepted.push(stream);
      options.onStream?.(stream);
    },
    onClose: (error) => (closed.acceptor = error ?? 'clean'),
  });
  const initiator = new MuxSession(pair.client, { keepAliveMs: 0, ...options.initiator, role: 'initiator', onClose: (error) => (closed.initiator = error ?? 'clean') });
  await initiator.whenReady();
  const open = () => {
    const channel = initiator.openStream();
    const stream = new HybridConnectionStream(channel, { trackingId: `c/${channel.id}` }, undefined, { keepAliveIntervalMs: 0 });
    stream.on('error', () => undefined);
    return stream;
  };
  const destroy = () => {
    pair.clientSocket.destroy();
    pair.serverSocket.destroy();
  };
  return { ...pair, initiator, acceptor, accepted, channels, open, closed, destroy };
}
