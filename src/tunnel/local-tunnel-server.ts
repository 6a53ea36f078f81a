/**
 * The local TCP side of `port-forward` and `socks5-proxy`: accepts connections, applies TCP
 * keep-alive, runs a handler per connection, and drains on shutdown (stop accepting, let open
 * connections finish for a grace period, then cut them and abort tunnels still being opened).
 */
import type { AddressInfo, Server, Socket } from 'node:net';
import { listenTcp } from '../forwarding/local-listen.js';
import { formatTarget } from '../protocol/aztunnel-envelope.js';
import type { Logger } from '../util/logger.js';
import type { BindAddress } from './bind-address.js';

export type LocalConnectionHandler = (socket: Socket, signal: AbortSignal) => Promise<void>;

export interface LocalTunnelServerOptions {
  bind: BindAddress;
  /** `--tcp-keepalive` on accepted sockets; 0 turns it off. */
  tcpKeepAliveMs: number;
  log: Logger;
  handle: LocalConnectionHandler;
}

export class LocalTunnelServer {
  private readonly sockets = new Set<Socket>();
  private readonly abort = new AbortController();

  private constructor(
    private readonly server: Server,
    private readonly options: LocalTunnelServerOptions,
  ) {}

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
    return this.sockets.size;
  }

  async drain(graceMs: number): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const log = this.options.log;
    if (this.sockets.size > 0) {
      log.info({ open: this.sockets.size, graceMs }, 'no longer accepting; waiting for open connections to finish');
      await waitUntil(() => this.sockets.size === 0, graceMs);
    }
    if (this.sockets.size > 0) log.warn({ open: this.sockets.size }, 'grace period over; closing the remaining connections');
    this.abort.abort();
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private accept(socket: Socket): void {
    socket.on('error', () => undefined); // reported through the handler's pump result
    if (this.abort.signal.aborted) {
      socket.destroy();
      return;
    }
    if (this.options.tcpKeepAliveMs > 0) socket.setKeepAlive(true, this.options.tcpKeepAliveMs);
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    this.options.handle(socket, this.abort.signal).catch((err: unknown) => {
      this.options.log.error({ client: `${socket.remoteAddress}:${socket.remotePort}`, reason: (err as Error).message }, 'connection handler failed');
      socket.destroy();
    });
  }
}

function waitUntil(done: () => boolean, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const deadline = Date.now() + timeoutMs;
    const check = () => {
      if (done() || Date.now() >= deadline) return resolve();
      setTimeout(check, Math.min(100, Math.max(1, deadline - Date.now())));
    };
    check();
  });
}
