import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { encodeConnectionClosed } from '../protocol/hybridge-extensions.js';
import type { ListenerChannel } from './listener-channel.js';

interface ClientConnection {
  id: string;
  /** Control channels (of listeners that announced `connection`) given requests from this connection. */
  channels: Set<ListenerChannel>;
}

/**
 * The ids of the HTTP client connections relayed requests come on (hybridge extension
 * `connection`, see protocol/hybridge-extensions.ts): one random id per client socket, and a
 * `hybridgeConnectionClosed` notice to every listener that got a request from it when it closes,
 * so a listener that keeps per-connection state (a target connection for NTLM) can let it go.
 */
export class ClientConnections {
  private readonly bySocket = new WeakMap<Socket, ClientConnection>();

  idFor(socket: Socket): string {
    return this.entry(socket).id;
  }

  /** A request from `socket` went to `channel`, whose listener wants to hear when the connection closes. */
  delivered(socket: Socket, channel: ListenerChannel): void {
    this.entry(socket).channels.add(channel);
  }

  private entry(socket: Socket): ClientConnection {
    let entry = this.bySocket.get(socket);
    if (!entry) {
      const created: ClientConnection = { id: randomUUID(), channels: new Set() };
      entry = created;
      this.bySocket.set(socket, created);
      socket.once('close', () => {
        for (const channel of created.channels) if (channel.isOpen) channel.send(encodeConnectionClosed(created.id));
        created.channels.clear();
      });
    }
    return entry;
  }
}
