import type { IncomingMessage } from 'node:http';

/**
 * The client's address as the relay's IP rules see it: for now the peer of the request's socket.
 * Behind a load balancer that is the balancer; the real client's address (PROXY protocol,
 * X-Forwarded-For from trusted proxies) is to be returned from here, so every IP rule decision
 * follows it.
 */
export function addressOf(req: IncomingMessage): string | undefined {
  return req.socket.remoteAddress;
}

/** What a client the IP rules refuse is told: nothing about the rules, nor which one refused it. */
export const ADDRESS_REFUSED = 'Forbidden: this client is not allowed to connect to the namespace';
