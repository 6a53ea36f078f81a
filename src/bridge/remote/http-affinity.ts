import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { HttpRemoteBinding } from '../config/index.js';
import { clearTimer } from '../../util/clear-timer.js';

/** Client connections with a dedicated target connection at once; the least recently used goes first beyond it. */
export const MAX_AFFINITY_CONNECTIONS = 1000;
/** A dedicated target connection unused this long is closed (the client's may live on; its next request dials anew). */
export const AFFINITY_IDLE_MS = 120_000;

interface Pinned {
  binding: HttpRemoteBinding;
  agent: HttpAgent;
  idle: NodeJS.Timeout;
}

/**
 * Connection affinity for -H (ConnectionAffinity / --http-affinity): each client connection of the
 * relay (RelayedHttpRequest.connectionId, a hybridge relay extension) gets its own target and its
 * own single keep-alive connection to it, for as long as it lives, so that connection-bound
 * authentication (NTLM, Negotiate) sees one connection from handshake to the last request. The
 * target connection closes with the client's (the relay's hybridgeConnectionClosed), after
 * AFFINITY_IDLE_MS unused, or when more than MAX_AFFINITY_CONNECTIONS are pinned (oldest first).
 */
export class AffinityAgents {
  private readonly pinned = new Map<string, Pinned>();

  constructor(private readonly limits: { max: number; idleMs: number } = { max: MAX_AFFINITY_CONNECTIONS, idleMs: AFFINITY_IDLE_MS }) {}

  get size(): number {
    return this.pinned.size;
  }

  /** The binding and agent of this client connection; `choose` picks the binding the first time. */
  agentFor(connectionId: string, choose: () => HttpRemoteBinding): { binding: HttpRemoteBinding; agent: HttpAgent } {
    const found = this.pinned.get(connectionId);
    if (found) {
      // Most recently used last: Map iteration order is the eviction order.
      this.pinned.delete(connectionId);
      this.pinned.set(connectionId, found);
      found.idle.refresh();
      return found;
    }
    while (this.pinned.size >= this.limits.max) this.close(this.pinned.keys().next().value!);
    const binding = choose();
    const options = { keepAlive: true, maxSockets: 1, maxFreeSockets: 1 };
    const agent = binding.scheme === 'https' ? new HttpsAgent({ ...options, rejectUnauthorized: !binding.insecure }) : new HttpAgent(options);
    const idle = setTimeout(() => {
      // A request still in flight (a long download) keeps its connection.
      if (Object.keys(agent.sockets).length > 0) idle.refresh();
      else this.close(connectionId);
    }, this.limits.idleMs);
    idle.unref();
    const entry = { binding, agent, idle };
    this.pinned.set(connectionId, entry);
    return entry;
  }

  /** The client connection closed: so does its target connection. */
  close(connectionId: string): void {
    const entry = this.pinned.get(connectionId);
    if (!entry) return;
    this.pinned.delete(connectionId);
    clearTimer(entry.idle);
    entry.agent.destroy();
  }

  closeAll(): void {
    for (const id of [...this.pinned.keys()]) this.close(id);
  }
}
