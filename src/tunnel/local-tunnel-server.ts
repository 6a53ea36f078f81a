/**
 * The local TCP side of `port-forward` and `socks5-proxy`: accepts connections, applies TCP
 * keep-alive, runs a handler per connection, and drains on shutdown (stop accepting, let open
 * connections finish for a grace period, then cut them and abort tunnels still being opened).
 */
import type { AddressInfo, Server, Socket } from 'node:net';
import { ConnectionLifecycle } from '../forwarding/lifecycle/connection-lifecycle.js';
import type { TrackedConnection } from '../forwarding/lifecycle/tracked-connection.js';
import { listenTcp } from '../forwarding/local-listen.js';
import { formatTarget } from '../protocol/aztunnel-envelope.js';
import type { Logger } from '../util/logger.js';
import type { BindAddress } from './bind-address.js';

/** Serves one local connection; it ends `connection` (its one closing line) when it is over. */
export type LocalConnectionHandler = (socket: Socket, connection: TrackedConnection, signal: AbortSignal) => Promise<void>;

export interface LocalTunnelServerOptions {
  bind: BindAddress;
  /** `--tcp-keepalive` on accepted sockets; 0 turns it off. */
  tcpKeepAliveMs: number;
  log: Logger;
  handle: LocalConnectionHandler;
  /** The hybrid connection the tunnels go through (for the connections' fields). */
  hyco?: string;
  /** Where connections are tracked (one is made when not given). */
  lifecycle?: ConnectionLifecycle;
}

export class LocalTunnelServer {
  private readonly abort = new AbortController();
  readonly lifecycle: ConnectionLifecycle;

  private constructor(
    private readonly server: Server,
    private readonly options: LocalTunnelServerOptions,
  ) {
    this.lifecycle = options.lifecycle ?? new ConnectionLifecycle(options.log);
  }

  /** Binds (throws ListenError with a clear reason) and starts serving. */
  static async start(options: LocalTunnelServerOptions): Promise<LocalTunnelServer> {
    // Connections that arrive before the constructor ran wait in `early`.
    const early: Socket[] = [];
    const ref: { instance?: LocalTunnelServer } = {};
    const server = await listenTcp(options.bind.host, options.bind.port, (socket) => (ref.instance ? ref.instance.accept(socket) : early.push(socket)));
    const instance = new LocalTunnelServer(server, options);
    ref.instance = instance;
    for (const socket of early) instance.accept(socket);
    return instance;
  }

  /** `host:port` actually bound (the port is real even when 0 was asked for). */
  get address(): string {
    const a = this.server.address() as AddressInfo;
    return formatTarget(a.address, a.port);
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get openConnections(): number {
    return this.lifecycle.size;
  }

  async drain(graceMs: number): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const log = this.options.log;
    const open = this.lifecycle.size;
    if (open > 0) log.info({ open, graceMs }, 'no longer accepting; waiting for open connections to finish');
    const finished = await this.lifecycle.whenIdle(graceMs);
    if (!finished) log.warn({ open: this.lifecycle.size }, 'grace period over; closing the remaining connections');
    this.abort.abort();
    await this.lifecycle.drain(0);
    await closed;
  }

  private accept(socket: Socket): void {
    socket.on('error', () => undefined); // reported through the handler's pump result
    if (this.abort.signal.aborted) {
      socket.destroy();
      return;
    }
    if (this.options.tcpKeepAliveMs > 0) socket.setKeepAlive(true, this.options.tcpKeepAliveMs);
    const connection = this.lifecycle.open({
      role: 'sender',
      fields: { hyco: this.options.hyco, client: `${socket.remoteAddress}:${socket.remotePort}` },
      abort: () => socket.destroy(),
    });
    this.options.handle(socket, connection, this.abort.signal).then(
      () => {
        if (!connection.isEnded) connection.end({ end: socket.destroyed ? 'client-gone' : 'closed' });
      },
      (err: unknown) => {
        connection.end({ end: 'local-error', reason: `connection handler failed: ${(err as Error).message}` });
        socket.destroy();
      },
    );
  }
}
