/**
 * Measurements across a lab: TCP ping-pong round trips (how accurate the links' delays are), a
 * long-lived ping session (does a connection survive a cut?), and a UDP datagram count (how much a
 * link loses). Each runs the lab's tools (lab/tools) inside the nodes and stops them afterwards.
 */
import { fileURLToPath } from 'node:url';
import { percentiles, type Percentiles } from '../bench/lib/stats.js';
import { LineProcess } from './line-process.js';
import type { LabNode } from './node.js';

const TCP_PING = fileURLToPath(new URL('./tools/tcp-ping.js', import.meta.url));
const UDP_COUNT = fileURLToPath(new URL('./tools/udp-count.js', import.meta.url));

function tool(node: LabNode, script: string, args: (string | number)[]): LineProcess {
  return new LineProcess(`${script.split('/').pop()} in ${node.name}`, node.spawn(process.execPath, [script, ...args.map(String)]));
}

async function startServer(node: LabNode, script: string, host: string): Promise<{ server: LineProcess; port: number }> {
  const server = tool(node, script, script === TCP_PING ? ['server', host] : ['recv', host]);
  try {
    const { port } = await server.nextJson<{ port: number }>(10_000);
    return { server, port };
  } catch (err) {
    await server.stop();
    throw err;
  }
}

export interface RoundTrips extends Percentiles {
  /** The TCP connect (one round trip plus the handshake's processing). */
  connectMs: number;
  samples: number[];
  min: number;
}

export interface PingOptions {
  /** Round trips to time (default 20). */
  count?: number;
  /** Where `to` listens (default: its node address). */
  host?: string;
}

/** Times `count` sequential 1-byte round trips over one TCP connection from `from` to `to`. */
export async function tcpPingPong(from: LabNode, to: LabNode, options: PingOptions = {}): Promise<RoundTrips> {
  const host = options.host ?? to.address;
  const count = options.count ?? 20;
  const { server, port } = await startServer(to, TCP_PING, host);
  try {
    const client = tool(from, TCP_PING, ['ping', host, port, count]);
    try {
      const r = await client.nextJson<{ connectMs: number; rttMs: number[] }>(30_000 + count * 5_000);
      return { ...percentiles(r.rttMs), connectMs: r.connectMs, samples: r.rttMs, min: Math.min(...r.rttMs) };
    } finally {
      await client.stop();
    }
  } finally {
    await server.stop();
  }
}

/**
 * One TCP connection from `from` to an echo server on `to`, kept open: ping() sends one byte and
 * resolves with the round trip once its echo is back, or undefined when none came within the
 * timeout (the byte stays in flight: TCP retransmits it, and its echo is the next pong).
 */
export class PingSession {
  private constructor(
    private readonly server: LineProcess,
    private readonly client: LineProcess,
    readonly connectMs: number,
  ) {}

  static async open(from: LabNode, to: LabNode, host = to.address): Promise<PingSession> {
    const { server, port } = await startServer(to, TCP_PING, host);
    const client = tool(from, TCP_PING, ['session', host, port]);
    try {
      const first = await client.nextJson<{ connected?: number; error?: string }>(20_000);
      if (first.connected === undefined) throw new Error(`ping session did not connect: ${first.error ?? JSON.stringify(first)}`);
      return new PingSession(server, client, first.connected);
    } catch (err) {
      await Promise.all([client.stop(), server.stop()]);
      throw err;
    }
  }

  /** Sends one byte; the round trip in ms, or undefined after `timeoutMs` without an echo. */
  ping(timeoutMs: number): Promise<number | undefined> {
    this.client.send('ping');
    return this.nextPong(timeoutMs);
  }

  /** Waits for the echo of a byte sent earlier (one whose ping() timed out). */
  async nextPong(timeoutMs: number): Promise<number | undefined> {
    let line: { pong?: number; error?: string; closed?: boolean };
    try {
      line = await this.client.nextJson(timeoutMs);
    } catch (err) {
      if (this.client.hasExited) throw err;
      return undefined;
    }
    if (line.pong === undefined) throw new Error(`ping session ended: ${line.error ?? 'closed'}`);
    return line.pong;
  }

  /** The client's pid (its socket is the session's). */
  get clientPid(): number {
    return this.client.pid;
  }

  async close(): Promise<void> {
    await Promise.all([this.client.stop(), this.server.stop()]);
  }
}

export interface UdpCountOptions {
  count: number;
  /** Bytes per datagram (default 100). */
  size?: number;
  /** Datagrams sent at a time, 2 ms apart (default 50). */
  batch?: number;
  /** How long to wait for stragglers after the last send (default 500 ms; add the path's delay). */
  settleMs?: number;
}

/** Sends `count` datagrams from `from` to `to`; how many were sent and how many arrived. */
export async function udpCount(from: LabNode, to: LabNode, options: UdpCountOptions): Promise<{ sent: number; received: number }> {
  const { server, port } = await startServer(to, UDP_COUNT, to.address);
  try {
    const sender = tool(from, UDP_COUNT, ['send', to.address, port, options.count, options.size ?? 100, options.batch ?? 50]);
    const { sent } = await sender.nextJson<{ sent: number }>(60_000);
    await sender.stop();
    await new Promise((r) => setTimeout(r, options.settleMs ?? 500));
    server.endInput();
    const { received } = await server.nextJson<{ received: number }>(5_000);
    return { sent, received };
  } finally {
    await server.stop();
  }
}
