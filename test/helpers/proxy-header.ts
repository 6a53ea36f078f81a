/** Builds PROXY protocol headers the way a load balancer writes them, for the relay's tests. */
import { once } from 'node:events';
import { connect, createServer, isIPv4, type AddressInfo, type Socket } from 'node:net';
import { PROXY_V2_SIGNATURE, type ProxiedAddress } from '../../src/relay/proxy-protocol.js';
import { parseIPv6 } from '../../src/tunnel/socks5-protocol.js';

export interface ProxiedConnection {
  source: ProxiedAddress;
  destination: ProxiedAddress;
}

/** v1 text (`PROXY TCP4 ...`, or `PROXY UNKNOWN` without addresses). */
export function proxyV1(connection?: ProxiedConnection): Buffer {
  if (!connection) return Buffer.from('PROXY UNKNOWN\r\n', 'latin1');
  const { source: s, destination: d } = connection;
  return Buffer.from(`PROXY TCP${isIPv4(s.address) ? 4 : 6} ${s.address} ${d.address} ${s.port} ${d.port}\r\n`, 'latin1');
}

/** v2 binary: PROXY over TCP with the addresses, or LOCAL without; `tlvs` are appended as given. */
export function proxyV2(connection?: ProxiedConnection, tlvs: Buffer = Buffer.alloc(0)): Buffer {
  if (!connection) return Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x20, 0x00, tlvs.length >> 8, tlvs.length & 0xff]), tlvs]);
  const v4 = isIPv4(connection.source.address);
  const size = v4 ? 4 : 16;
  const bytesOf = (address: string) => (v4 ? Buffer.from(address.split('.').map(Number)) : parseIPv6(address));
  const body = Buffer.alloc(size * 2 + 4);
  bytesOf(connection.source.address).copy(body, 0);
  bytesOf(connection.destination.address).copy(body, size);
  body.writeUInt16BE(connection.source.port, size * 2);
  body.writeUInt16BE(connection.destination.port, size * 2 + 2);
  const length = body.length + tlvs.length;
  return Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x21, v4 ? 0x11 : 0x21, length >> 8, length & 0xff]), body, tlvs]);
}

/** One TLV: type, 16-bit length, value. */
export function tlv(type: number, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from([type, value.length >> 8, value.length & 0xff]), value]);
}

/**
 * A TCP forwarder for the tests: each connection to it (on 127.0.0.1) is forwarded to `targetPort`
 * on 127.0.0.1, optionally from `localAddress` (so that the target sees another loopback client
 * address) and optionally preceded by a PROXY header naming the connection's own client (a
 * minimal balancer; the real balancer tests use haproxy and nginx).
 */
export interface TcpForwarder {
  port: number;
  close(): Promise<void>;
}

export interface TcpForwarderOptions {
  targetPort: number;
  proxyHeader?: 1 | 2;
  localAddress?: string;
}

export async function startTcpForwarder(options: TcpForwarderOptions): Promise<TcpForwarder> {
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
  };
  const server = createServer((client) => {
    track(client);
    const upstream = connect({ host: '127.0.0.1', port: options.targetPort, localAddress: options.localAddress });
    track(upstream);
    if (options.proxyHeader) {
      const connection = {
        source: { address: client.remoteAddress!, port: client.remotePort! },
        destination: { address: client.localAddress!, port: client.localPort! },
      };
      upstream.write(options.proxyHeader === 1 ? proxyV1(connection) : proxyV2(connection));
    }
    client.pipe(upstream).on('error', () => undefined);
    upstream.pipe(client).on('error', () => undefined);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
