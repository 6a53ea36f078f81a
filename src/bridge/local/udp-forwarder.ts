import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { isIP } from 'node:net';
import { formatTarget } from '../../forwarding/dial.js';
import { ListenError } from '../../forwarding/local-listen.js';
import type { UdpLocalBinding } from '../config/index.js';
import { isMissingAddress, listenAddresses } from './listen-addresses.js';
import type { LocalContext, LocalListener } from './local-context.js';
import { LogThrottle } from '../../util/log-throttle.js';
import { UdpFlow } from './udp-flow.js';

/**
 * -L for UDP ports (`NU`): one flow per client endpoint, each with its own relayed connection, and
 * at most MaxUdpFlows of them at once. The socket keeps running whatever happens to the flows; on
 * stop, every flow ends at once (datagrams have no end to wait for).
 */
export class UdpForwarder implements LocalListener {
  private readonly sockets: UdpSocket[] = [];
  private readonly flows = new Map<string, UdpFlow>();
  private readonly overLimit = new LogThrottle(OVER_LIMIT_LOG_INTERVAL_MS);
  private stopped = false;
  readonly addresses: string[] = [];

  constructor(
    private readonly binding: UdpLocalBinding,
    private readonly ctx: LocalContext,
  ) {}

  async start(): Promise<void> {
    for (const address of await listenAddresses(this.binding.bindAddress, this.ctx.gatewayPorts, this.ctx.addressFamily)) {
      try {
        const socket = await bindUdp(address.host, this.binding.port);
        const index = this.sockets.length;
        this.sockets.push(socket);
        this.addresses.push(`udp:${formatTarget(address.host ?? '*', this.binding.port)}`);
        socket.on('message', (payload, from) => this.onDatagram(index, socket, payload, from));
        socket.on('error', (err) => this.ctx.log.warn({ hyco: this.ctx.relayName, port: this.binding.portName, reason: err.message }, 'UDP socket error'));
      } catch (err) {
        if (address.optional && isMissingAddress(err)) continue;
        await this.stop();
        throw err;
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const flow of [...this.flows.values()]) flow.close('shutdown');
    await Promise.all(this.sockets.splice(0).map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))));
  }

  /** Number of live flows (tests). */
  get flowCount(): number {
    return this.flows.size;
  }

  private onDatagram(index: number, socket: UdpSocket, payload: Buffer, from: RemoteInfo): void {
    if (this.stopped) return;
    const key = `${index} ${from.address} ${from.port}`;
    let flow = this.flows.get(key);
    if (!flow) {
      if (this.flows.size >= this.ctx.maxUdpFlows) return this.dropFromNewClient();
      const client = formatTarget(from.address, from.port);
      const created: UdpFlow = new UdpFlow(
        this.binding,
        this.ctx,
        { hyco: this.ctx.relayName, port: this.binding.portName, client },
        (reply) => {
          try {
            socket.send(reply, from.port, from.address);
          } catch {
            // The socket closed on stop.
          }
        },
        () => {
          if (this.flows.get(key) === created) this.flows.delete(key);
        },
      );
      flow = created;
      this.flows.set(key, flow);
    }
    flow.deliver(payload);
  }

  /**
   * A datagram from a client without a flow while the forwarder carries its limit: dropped, so that
   * spoofed or countless source addresses (with -g, from anywhere) cannot open relayed connections
   * without end. The log line is throttled for the same reason.
   */
  private dropFromNewClient(): void {
    const dropped = this.overLimit.hit();
    if (dropped === 0) return;
    const { relayName, log } = this.ctx;
    log.warn({ hyco: relayName, port: this.binding.portName, limit: this.ctx.maxUdpFlows, dropped }, 'UDP flow limit reached (--max-udp-flows, MaxUdpFlows): datagrams from new clients dropped');
  }
}

/** At most one "flow limit reached" line per this many milliseconds per forwarder. */
const OVER_LIMIT_LOG_INTERVAL_MS = 10_000;

/** A UDP socket bound to `host:port` (every interface, IPv6 and IPv4, when host is undefined). */
function bindUdp(host: string | undefined, port: number): Promise<UdpSocket> {
  const v6 = host === undefined || isIP(host) === 6;
  const socket = createSocket({ type: v6 ? 'udp6' : 'udp4' });
  return new Promise((resolve, reject) => {
    socket.once('error', (err: NodeJS.ErrnoException) => {
      socket.close();
      const where = `udp:${formatTarget(host ?? '*', port)}`;
      const reason = err.code === 'EADDRINUSE' ? 'is already in use' : err.code === 'EACCES' ? 'needs privileges this process does not have' : err.code === 'EADDRNOTAVAIL' ? 'is not an address of this machine' : `cannot be used (${err.message})`;
      reject(new ListenError(`${where} ${reason}`));
    });
    socket.bind({ address: host ?? '::', port }, () => {
      socket.removeAllListeners('error');
      resolve(socket);
    });
  });
}
