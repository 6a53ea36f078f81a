/**
 * node:http and node:https agents whose connections follow a ProxyPolicy: direct as usual, or
 * through a proxy tunnel with TLS to the destination inside it. They serve the HTTP clients that
 * reach a relay or Azure: the management API, ARM, and Microsoft Entra ID (@azure/identity).
 */
import http from 'node:http';
import https from 'node:https';
import { isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { openTunnel } from './open-tunnel.js';
import type { ProxyPolicy } from './proxy-policy.js';

type ConnectionCallback = (err: Error | null, stream: Duplex) => void;

export class ProxyHttpAgent extends http.Agent {
  constructor(
    private readonly policy: ProxyPolicy,
    options?: http.AgentOptions,
  ) {
    super(options);
  }

  override createConnection(options: http.ClientRequestArgs, callback?: ConnectionCallback): Duplex | null | undefined {
    const { host, port } = destination(options, 80);
    const proxy = this.policy.route(host, port, false);
    if (!proxy) return super.createConnection(options, callback);
    openTunnel(proxy, host, port, { timeoutMs: options.timeout }).then(
      (socket) => callback?.(null, socket),
      (err: Error) => callback?.(err, undefined as unknown as Duplex),
    );
    return undefined;
  }
}

export class ProxyHttpsAgent extends https.Agent {
  constructor(
    private readonly policy: ProxyPolicy,
    options?: https.AgentOptions,
  ) {
    super(options);
  }

  override createConnection(options: https.RequestOptions, callback?: ConnectionCallback): Duplex | null | undefined {
    const { host, port } = destination(options, 443);
    const proxy = this.policy.route(host, port, true);
    if (!proxy) return super.createConnection(options, callback);
    openTunnel(proxy, host, port, { timeoutMs: options.timeout }).then(
      (socket) => callback?.(null, tlsInside(socket, host, options)),
      (err: Error) => callback?.(err, undefined as unknown as Duplex),
    );
    return undefined;
  }
}

/** An agent for `secure` (https) or plain (http) requests that follows `policy`. */
export function proxyAgent(policy: ProxyPolicy, secure: boolean, options: http.AgentOptions = {}): http.Agent {
  return secure ? new ProxyHttpsAgent(policy, options) : new ProxyHttpAgent(policy, options);
}

function destination(options: http.ClientRequestArgs, defaultPort: number): { host: string; port: number } {
  const host = (options.host ?? options.hostname ?? 'localhost').replace(/^\[|\]$/g, '');
  return { host, port: options.port ? Number(options.port) : defaultPort };
}

/** The request's TLS settings (trust, server name) applied end to end, over the tunnel. */
function tlsInside(socket: Socket, host: string, options: https.RequestOptions): tls.TLSSocket {
  const settings: tls.ConnectionOptions & { path?: unknown } = { ...(options as tls.ConnectionOptions), socket };
  // Only host and port of the request matter to TLS; its path is not a Unix socket.
  delete settings.path;
  settings.servername = options.servername ?? (isIP(host) ? undefined : host);
  return tls.connect(settings);
}
