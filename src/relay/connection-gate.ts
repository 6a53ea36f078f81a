import type { Socket } from 'node:net';
import type { RelayLimits } from './limits.js';
import type { LogLimiter } from './log-limiter.js';

interface Entry {
  socket: Socket;
  address: string;
  /** When the connection must have authenticated by; 0 once it has. */
  deadline: number;
}

/**
 * Admission at the socket level, before a byte is read: a cap on all sockets, a cap per client
 * address on those that have not authenticated yet, and a deadline for authenticating. Sockets are
 * known by remote address and port, so a TLS socket finds the TCP connection under it.
 */
export class ConnectionGate {
  private readonly entries = new Map<string, Entry>();
  /** Entries still waiting to authenticate, oldest first (one timeout for all keeps this ordered by deadline). */
  private readonly waiting = new Map<string, Entry>();
  private readonly unauthenticated = new Map<string, number>();
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(
    private readonly limits: Pick<RelayLimits, 'maxSockets' | 'maxUnauthenticatedPerAddress' | 'handshakeTimeoutMs'>,
    private readonly lines: LogLimiter,
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
    const address = socket.remoteAddress;
    const id = idOf(socket);
    if (address === undefined || id === undefined) {
      socket.destroy();
      return false;
    }
    if (this.entries.size >= this.limits.maxSockets) return this.refuse(socket, { remote: address, sockets: this.entries.size }, 'connection refused: the relay holds its maximum number of sockets (--max-sockets)');
    const pending = this.unauthenticatedOf(address);
    if (pending >= this.limits.maxUnauthenticatedPerAddress) {
      return this.refuse(socket, { remote: address, unauthenticated: pending }, 'connection refused: too many unauthenticated connections from this address (--max-unauthenticated-per-address)');
    }
    const entry: Entry = { socket, address, deadline: Date.now() + this.limits.handshakeTimeoutMs };
    this.entries.set(id, entry);
    this.waiting.set(id, entry);
    this.unauthenticated.set(address, pending + 1);
    socket.once('close', () => this.forget(id, entry));
    return true;
  }

  /** The connection under `socket` (TCP or TLS) authenticated: it no longer counts against its address and has no deadline. */
  authenticated(socket: Socket): void {
    const id = idOf(socket);
    const entry = id === undefined ? undefined : this.waiting.get(id);
    if (!entry || entry.deadline === 0) return;
    entry.deadline = 0;
    this.waiting.delete(id!);
    this.release(entry.address);
  }

  close(): void {
    clearInterval(this.sweepTimer);
  }

  private refuse(socket: Socket, fields: Record<string, unknown>, message: string): false {
    this.lines.warn(fields, message);
    socket.destroy();
    return false;
  }

  private forget(id: string, entry: Entry): void {
    if (this.entries.get(id) === entry) this.entries.delete(id);
    if (entry.deadline !== 0) {
      entry.deadline = 0;
      this.waiting.delete(id);
      this.release(entry.address);
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
    if (expired > 0) this.lines.info({ expired }, 'connections closed: not authenticated within --handshake-timeout');
  }
}

function idOf(socket: Socket): string | undefined {
  return socket.remoteAddress === undefined ? undefined : `${socket.remoteAddress}|${socket.remotePort}`;
}
