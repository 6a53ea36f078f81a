import { channel } from 'node:diagnostics_channel';
import { formatHost } from '../protocol/relay-endpoint.js';

/** One handshake that asked a pre-connected socket pool for a socket, as published on PRECONNECT_CHANNEL. */
export interface PreconnectTake {
  /** The relay host the handshake goes to, `host:port`. */
  host: string;
  /** It got a socket that was connected ahead of time (else it opens a new connection). */
  preconnected: boolean;
}

/**
 * The diagnostics channel every take from a pre-connected socket pool is published on (end metrics
 * subscribe to it: hybridge_preconnect_handshakes_total). Nothing is published while no one listens.
 */
export const PRECONNECT_CHANNEL = 'hybridge:preconnect';
const takes = channel(PRECONNECT_CHANNEL);

/** Sockets waiting now in every pool of this process, by relay host (`host:port`); hosts with none are absent. */
const idle = new Map<string, number>();

/** The relay host of an origin as metrics name it. */
export function hostLabel(origin: { host: string; port: number }): string {
  return `${formatHost(origin.host)}:${origin.port}`;
}

export function reportTake(host: string, preconnected: boolean): void {
  if (takes.hasSubscribers) takes.publish({ host, preconnected } satisfies PreconnectTake);
}

/** A socket started (+1) or stopped (-1) waiting in a pool for `host`. */
export function countIdle(host: string, change: 1 | -1): void {
  const now = (idle.get(host) ?? 0) + change;
  if (now > 0) idle.set(host, now);
  else idle.delete(host);
}

/** Pre-connected sockets waiting now, by relay host, across every pool of the process (read at scrape time). */
export function idlePreconnected(): ReadonlyMap<string, number> {
  return idle;
}
