import net, { type Socket } from 'node:net';
import { countIdle, hostLabel, reportTake } from './preconnect-census.js';
import { connectTls, type TlsClientOptions } from './tls-connect.js';
import { clearTimer } from '../util/clear-timer.js';

/** How many pre-connected sockets to keep, and for how long. */
export interface PreconnectOptions {
  /** Connected sockets kept ready per relay host (0 = off). Default 2. */
  perHost?: number;
  /**
   * A socket unused this long is closed and replaced, well below the idle limits of common load
   * balancers and front ends (haproxy's `timeout http-request` is often 10 s, nginx's
   * client_header_timeout 60 s, the hybridge relay's header timeout 15 s). Default 8 s.
   */
  idleMs?: number;
  /** A host's sockets are replaced for this long after its last use; then it is let go. Default 120 s. */
  keepWarmMs?: number;
}

/** Where a socket goes: the relay host of a sender's connect or of a listener's rendezvous. */
export interface WarmOrigin {
  host: string;
  port: number;
  secure: boolean;
}

/** What the pool did, for tests and metrics. */
export interface WarmSocketStats {
  /** Sockets that connected (TCP, plus TLS on secure origins) ahead of demand. */
  opened: number;
  /** Sockets handed to a WebSocket handshake. */
  taken: number;
  /** Sockets closed after idleMs unused. */
  expired: number;
  /** Sockets the server closed (or wrote to) while they waited: dropped, never handed out. */
  diedIdle: number;
  /** Connects that failed. */
  failed: number;
}

interface Idle {
  socket: Socket;
  timer: NodeJS.Timeout;
  onGone: () => void;
}

interface HostPool {
  origin: WarmOrigin;
  /** `host:port`, as metrics name the host. */
  label: string;
  ready: Idle[];
  opening: Set<Socket>;
  lastDemand: number;
  failures: number;
  retryTimer: NodeJS.Timeout | undefined;
}

export const DEFAULT_PRECONNECT_PER_HOST = 2;
const DEFAULT_IDLE_MS = 8000;
const DEFAULT_KEEP_WARM_MS = 120_000;
/** Hosts remembered at once (a listener behind Azure Relay sees a few rendezvous hosts). */
const MAX_HOSTS = 8;
const RETRY_MS = [500, 1000, 2000, 5000, 10_000];

/**
 * Sockets to relay hosts, connected (and TLS-negotiated, resuming the last session) before they are
 * needed, so a sender's connect or a listener's rendezvous only costs the WebSocket upgrade. A host
 * is kept warm from its first use until keepWarmMs after its last; a socket waits at most idleMs; a
 * socket the server closes (or writes anything to) while waiting is dropped at once and never handed
 * out. Waiting sockets do not keep the process alive. Not used through a proxy (the caller asks only
 * for direct connections).
 */
export class WarmSockets {
  readonly stats: WarmSocketStats = { opened: 0, taken: 0, expired: 0, diedIdle: 0, failed: 0 };
  private readonly hosts = new Map<string, HostPool>();
  private readonly perHost: number;
  private readonly idleMs: number;
  private readonly keepWarmMs: number;
  private closed = false;

  constructor(
    options: PreconnectOptions = {},
    private readonly tls?: TlsClientOptions,
  ) {
    this.perHost = Math.max(0, Math.floor(options.perHost ?? DEFAULT_PRECONNECT_PER_HOST));
    this.idleMs = Math.max(100, options.idleMs ?? DEFAULT_IDLE_MS);
    this.keepWarmMs = Math.max(this.idleMs, options.keepWarmMs ?? DEFAULT_KEEP_WARM_MS);
  }

  /** Sockets ready now for `origin`. */
  readyCount(origin: WarmOrigin): number {
    return this.hosts.get(keyOf(origin))?.ready.length ?? 0;
  }

  /** Sockets ready or still connecting now for `origin`. */
  pendingCount(origin: WarmOrigin): number {
    const pool = this.hosts.get(keyOf(origin));
    return pool ? pool.ready.length + pool.opening.size : 0;
  }

  /**
   * A connected socket to `origin` when one is ready (the caller owns it from now on), else
   * undefined; either way the origin counts as in use and its pool is refilled in the background.
   */
  take(origin: WarmOrigin): Socket | undefined {
    if (this.closed || this.perHost === 0) return undefined;
    const pool = this.poolFor(origin);
    pool.lastDemand = Date.now();
    let taken: Socket | undefined;
    while (!taken && pool.ready.length > 0) {
      const idle = pool.ready.pop()!;
      countIdle(pool.label, -1);
      this.release(idle);
      if (isUsable(idle.socket)) taken = idle.socket;
      else {
        this.stats.diedIdle++;
        idle.socket.destroy();
      }
    }
    if (taken) {
      this.stats.taken++;
      taken.ref();
    }
    reportTake(pool.label, taken !== undefined);
    this.fill(pool);
    return taken;
  }

  /**
   * Marks `origin` as in use without taking a socket, so that its pool fills now (and stays warm
   * keepWarmMs): a listener warms the host its control channel reached before the first rendezvous.
   */
  warm(origin: WarmOrigin): void {
    if (this.closed || this.perHost === 0) return;
    const pool = this.poolFor(origin);
    pool.lastDemand = Date.now();
    this.fill(pool);
  }

  /** Closes every waiting socket and stops refilling. */
  close(): void {
    this.closed = true;
    for (const pool of this.hosts.values()) this.drop(pool);
    this.hosts.clear();
  }

  private poolFor(origin: WarmOrigin): HostPool {
    const key = keyOf(origin);
    let pool = this.hosts.get(key);
    if (pool) {
      // The newest in insertion order, so the least recently used host is let go first.
      this.hosts.delete(key);
      this.hosts.set(key, pool);
      return pool;
    }
    pool = { origin: { ...origin }, label: hostLabel(origin), ready: [], opening: new Set(), lastDemand: 0, failures: 0, retryTimer: undefined };
    this.hosts.set(key, pool);
    if (this.hosts.size > MAX_HOSTS) {
      const [oldestKey, oldest] = this.hosts.entries().next().value as [string, HostPool];
      this.hosts.delete(oldestKey);
      this.drop(oldest);
    }
    return pool;
  }

  private fill(pool: HostPool): void {
    if (this.closed || pool.retryTimer || this.hosts.get(keyOf(pool.origin)) !== pool) return;
    if (Date.now() - pool.lastDemand > this.keepWarmMs) return;
    while (pool.ready.length + pool.opening.size < this.perHost) this.open(pool);
  }

  private open(pool: HostPool): void {
    const { host, port, secure } = pool.origin;
    const socket = secure ? connectTls(host, port, this.tls) : net.connect({ host, port });
    socket.setNoDelay(true);
    socket.unref();
    pool.opening.add(socket);
    const onError = () => {
      pool.opening.delete(socket);
      socket.destroy();
      this.stats.failed++;
      this.retryLater(pool);
    };
    socket.once('error', onError);
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      pool.opening.delete(socket);
      socket.off('error', onError);
      if (this.closed || this.hosts.get(keyOf(pool.origin)) !== pool) return void socket.destroy();
      this.stats.opened++;
      this.park(pool, socket);
    });
  }

  /** A connected socket waits in the pool until taken, idleMs passes, or the server ends it. */
  private park(pool: HostPool, socket: Socket): void {
    const idle: Idle = {
      socket,
      timer: setTimeout(() => {
        this.unpark(pool, idle);
        this.stats.expired++;
        pool.failures = 0;
        socket.destroy();
        this.fill(pool);
      }, this.idleMs),
      onGone: () => {
        this.unpark(pool, idle);
        this.stats.diedIdle++;
        socket.destroy();
        this.retryLater(pool);
      },
    };
    idle.timer.unref();
    // Nothing may come from a server before our request: a byte (an HTTP 408, a TLS alert) means it
    // is closing the connection.
    socket.on('data', idle.onGone);
    socket.on('end', idle.onGone);
    socket.on('close', idle.onGone);
    socket.on('error', idle.onGone);
    pool.ready.push(idle);
    countIdle(pool.label, 1);
  }

  private unpark(pool: HostPool, idle: Idle): void {
    const i = pool.ready.indexOf(idle);
    if (i >= 0) {
      pool.ready.splice(i, 1);
      countIdle(pool.label, -1);
    }
    this.release(idle);
  }

  private release(idle: Idle): void {
    clearTimer(idle.timer);
    idle.socket.off('data', idle.onGone);
    idle.socket.off('end', idle.onGone);
    idle.socket.off('close', idle.onGone);
    idle.socket.off('error', idle.onGone);
  }

  /** After a failed connect or a socket the server closed, the pool waits before refilling. */
  private retryLater(pool: HostPool): void {
    if (this.closed || pool.retryTimer) return;
    const wait = RETRY_MS[Math.min(pool.failures++, RETRY_MS.length - 1)]!;
    pool.retryTimer = setTimeout(() => {
      pool.retryTimer = undefined;
      this.fill(pool);
    }, wait);
    pool.retryTimer.unref();
  }

  private drop(pool: HostPool): void {
    clearTimer(pool.retryTimer);
    pool.retryTimer = undefined;
    for (const idle of pool.ready.splice(0)) {
      countIdle(pool.label, -1);
      this.release(idle);
      idle.socket.destroy();
    }
    for (const socket of pool.opening) socket.destroy();
    pool.opening.clear();
  }
}

function keyOf(origin: WarmOrigin): string {
  return `${origin.secure ? 'tls' : 'tcp'}|${origin.host}|${origin.port}`;
}

function isUsable(socket: Socket): boolean {
  return !socket.destroyed && socket.readyState === 'open' && !socket.readableEnded && socket.readableLength === 0;
}
