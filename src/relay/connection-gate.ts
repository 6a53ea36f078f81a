import type { Socket } from 'node:net';
import type { ClientAddresses } from './client-address.js';
import type { RelayLimits } from './limits.js';
import type { LogLimiter } from './log-limiter.js';
import { clearTimer } from '../util/clear-timer.js';

interface Entry {
  socket: Socket;
  /** The client address it counts against; undefined while the client behind a trusted proxy is not known yet. */
  address: string | undefined;
  /** When the connection must have authenticated by; 0 once it has. */
  deadline: number;
}

/**
 * Admission at the socket level, before a byte is read: a cap on all sockets, a cap per client
 * address on those that have not authenticated yet, and a deadline for authenticating. Sockets are
 * known by remote address and port, so a TLS socket finds the TCP connection under it. The address
 * is the client's (ClientAddresses): the PROXY protocol source, or, for a connection from a trusted
 * proxy, the client its request names (`attribute`), counted from the request head on.
 */
/** Why the gate closed a socket, as the metrics label it. */
export type SocketRefusal = 'max_sockets' | 'unauthenticated_per_address' | 'handshake_timeout';

export class ConnectionGate {
  /** Sockets the gate closed so far, by reason. */
  readonly refusals: Record<SocketRefusal, number> = { max_sockets: 0, unauthenticated_per_address: 0, handshake_timeout: 0 };
  private readonly entries = new Map<string, Entry>();
  /** Entries still waiting to authenticate, oldest first (one timeout for all keeps this ordered by deadline). */
  private readonly waiting = new Map<string, Entry>();
  private readonly unauthenticated = new Map<string, number>();
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(
    private readonly limits: Pick<RelayLimits, 'maxSockets' | 'maxUnauthenticatedPerAddress' | 'handshakeTimeoutMs'>,
    private readonly lines: LogLimiter,
    private readonly clients: ClientAddresses,
  ) {
    this.sweepTimer = setInterval(() => this.sweep(), Math.min(1000, Math.max(50, Math.floor(limits.handshakeTimeoutMs / 4))));
    this.sweepTimer.unref();
  }

  /** How many sockets are open; and how many of one address have not authenticated. */
  get size(): number {
    return this.entries.size;
  }

  unauthenticatedOf(address: string): number {
    return this.unauthenticated.get(address) ?? 0;
  }

  /** A new TCP connection. Returns false (after destroying it) when a cap is reached. */
  admit(socket: Socket): boolean {
    const id = idOf(socket);
    if (socket.remoteAddress === undefined || id === undefined) {
      socket.destroy();
      return false;
    }
    const peer = this.clients.peerOf(socket).address;
    if (this.entries.size >= this.limits.maxSockets) return this.refuse(socket, 'max_sockets', { remote: peer, sockets: this.entries.size }, 'connection refused: the relay holds its maximum number of sockets (--max-sockets)');
    // A trusted proxy carries many clients: its connections count against the client each request names.
    const address = this.clients.isTrusted(peer) ? undefined : peer;
    if (address !== undefined && !this.roomFor(socket, address)) return false;
    const entry: Entry = { socket, address, deadline: Date.now() + this.limits.handshakeTimeoutMs };
    this.entries.set(id, entry);
    this.waiting.set(id, entry);
    if (address !== undefined) this.count(address);
    socket.once('close', () => this.forget(id, entry));
    return true;
  }

  /**
   * A request head arrived on `socket` from `address` (its client, as ClientAddresses resolved it).
   * A connection from a trusted proxy that has not authenticated now counts against that client;
   * returns false (after destroying the socket) when that client already holds its maximum.
   */
  attribute(socket: Socket, address: string): boolean {
    const id = idOf(socket);
    const entry = id === undefined ? undefined : this.waiting.get(id);
    if (!entry || entry.deadline === 0 || entry.address === address) return true;
    if (entry.address !== undefined) this.release(entry.address);
    entry.address = undefined;
    if (!this.roomFor(socket, address)) return false;
    entry.address = address;
    this.count(address);
    return true;
  }

  /** The connection under `socket` (TCP or TLS) authenticated: it no longer counts against its address and has no deadline. */
  authenticated(socket: Socket): void {
    const id = idOf(socket);
    const entry = id === undefined ? undefined : this.waiting.get(id);
    if (!entry || entry.deadline === 0) return;
    entry.deadline = 0;
    this.waiting.delete(id!);
    if (entry.address !== undefined) this.release(entry.address);
  }

  close(): void {
    clearTimer(this.sweepTimer);
  }

  private roomFor(socket: Socket, address: string): boolean {
    const pending = this.unauthenticatedOf(address);
    if (pending < this.limits.maxUnauthenticatedPerAddress) return true;
    return this.refuse(socket, 'unauthenticated_per_address', { remote: address, unauthenticated: pending }, 'connection refused: too many unauthenticated connections from this address (--max-unauthenticated-per-address)');
  }

  private count(address: string): void {
    this.unauthenticated.set(address, this.unauthenticatedOf(address) + 1);
  }

  private refuse(socket: Socket, reason: SocketRefusal, fields: Record<string, unknown>, message: string): false {
    this.refusals[reason]++;
    this.lines.warn(fields, message);
    socket.destroy();
    return false;
  }

  private forget(id: string, entry: Entry): void {
    if (this.entries.get(id) === entry) this.entries.delete(id);
    if (entry.deadline !== 0) {
      entry.deadline = 0;
      this.waiting.delete(id);
      if (entry.address !== undefined) this.release(entry.address);
    }
  }

  private release(address: string): void {
    const n = (this.unauthenticated.get(address) ?? 1) - 1;
    if (n <= 0) this.unauthenticated.delete(address);
    else this.unauthenticated.set(address, n);
  }

  /** Destroys connections past their deadline (slowloris, silent sockets, bodies trickled after a refusal). */
  private sweep(now = Date.now()): void {
    let expired = 0;
    for (const entry of this.waiting.values()) {
      if (entry.deadline > now) break;
      expired++;
      entry.socket.destroy();
    }
    this.refusals.handshake_timeout += expired;
    if (expired > 0) this.lines.info({ expired }, 'connections closed: not authenticated within --handshake-timeout');
  }
}

function idOf(socket: Socket): string | undefined {
  return socket.remoteAddress === undefined ? undefined : `${socket.remoteAddress}|${socket.remotePort}`;
}
