import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export class MetricsAddressError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MetricsAddressError';
  }
}

export interface MetricsAddress {
  /** undefined: every interface (`:9090`, as aztunnel takes it). */
  host: string | undefined;
  port: number;
}

/** `--metrics-addr`: `host:port`, `[v6]:port`, or `:port` for every interface. */
export function parseMetricsAddress(text: string): MetricsAddress {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]*)):(\d{1,5})$/.exec(text.trim());
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) throw new MetricsAddressError(`--metrics-addr "${text}" is not host:port (e.g. 127.0.0.1:9464, [::1]:9464 or :9464 for every interface)`);
  const host = match[1] ?? (match[2] ? match[2] : undefined);
  return { host, port };
}

/** Renders the registry in Prometheus's text format. */
export async function sendMetrics(registry: Registry, res: ServerResponse): Promise<void> {
  try {
    const body = await registry.metrics();
    res.writeHead(200, { 'Content-Type': registry.contentType, 'Cache-Control': 'no-store' }).end(body);
  } catch (err) {
    res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`metrics collection failed: ${(err as Error).message}\n`);
  }
}

export interface MetricsServer {
  /** The port actually bound. */
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The `--metrics-addr` listener: `GET /metrics` (aztunnel's path) and nothing else, with short
 * timeouts so that a stuck scraper costs nothing.
 */
export async function startMetricsServer(address: MetricsAddress, registry: Registry): Promise<MetricsServer> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') return void res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('metrics are at /metrics\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405, { Allow: 'GET' }).end();
    void sendMetrics(registry, res);
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  server.keepAliveTimeout = 60_000;
  server.listen(address.port, address.host);
  await Promise.race([
    once(server, 'listening'),
    once(server, 'error').then(([err]) => {
      const code = (err as NodeJS.ErrnoException).code;
      const where = `${address.host ?? '*'}:${address.port}`;
      throw new MetricsAddressError(code === 'EADDRINUSE' ? `--metrics-addr ${where} is already in use` : code === 'EADDRNOTAVAIL' ? `--metrics-addr ${where} is not an address of this machine` : `--metrics-addr ${where}: ${(err as Error).message}`);
    }),
  ]);
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
