/**
 * A tiny TCP load balancer for the cluster tests, standing in for haproxy or a cloud load balancer:
 * round-robin over the relay nodes' ports, skipping a backend whose connect fails (a killed node),
 * so a listener configured with this one endpoint reconnects to a surviving node by itself.
 * Bytes are piped unchanged in both directions, with half-close.
 */
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export class TcpBalancer {
  /** Connections handed to each backend port so far. */
  readonly routed = new Map<number, number>();
  private readonly sockets = new Set<Socket>();
  private next = 0;

  private constructor(
    private readonly server: Server,
    private backends: number[],
  ) {}

  static async start(backends: number[]): Promise<TcpBalancer> {
    const server = createServer({ pauseOnConnect: true, allowHalfOpen: true });
    const balancer = new TcpBalancer(server, [...backends]);
    server.on('connection', (client) => balancer.route(client));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return balancer;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  /** Replaces the backend list (e.g. to take a node out of rotation). */
  setBackends(ports: number[]): void {
    this.backends = [...ports];
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  private route(client: Socket): void {
    this.track(client);
    client.on('error', () => client.destroy());
    const candidates = this.backends.map((_, i) => this.backends[(this.next + i) % this.backends.length]!);
    this.next = (this.next + 1) % Math.max(1, this.backends.length);
    const tryNext = (): void => {
      const port = candidates.shift();
      if (port === undefined || client.destroyed) {
        client.destroy();
        return;
      }
      const upstream = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
      this.track(upstream);
      let connected = false;
      upstream.once('connect', () => {
        connected = true;
        this.routed.set(port, (this.routed.get(port) ?? 0) + 1);
        splice(client, upstream);
      });
      upstream.once('error', () => {
        if (!connected) tryNext();
      });
    };
    tryNext();
  }
}

/** Pipes both ways; an end travels as an end (half-close), an error or reset destroys both. */
function splice(a: Socket, b: Socket): void {
  a.setNoDelay(true);
  b.setNoDelay(true);
  a.pipe(b);
  b.pipe(a);
  const kill = () => {
    a.destroy();
    b.destroy();
  };
  a.on('error', kill);
  b.on('error', kill);
  // A side that closed without ending cleanly (reset) takes the other with it once its data is written.
  const onClose = (other: Socket) => () => {
    if (!other.destroyed) other.end(() => other.destroy());
  };
  a.once('close', onClose(b));
  b.once('close', onClose(a));
  a.resume();
}
