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
    return throughProxy(this.policy, options, false, callback) ? undefined : super.createConnection(options, callback);
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
    return throughProxy(this.policy, options, true, callback) ? undefined : super.createConnection(options, callback);
  }
}

/** Starts the connection through the proxy `policy` names for it and answers true, or answers false to connect directly. */
function throughProxy(policy: ProxyPolicy, options: https.RequestOptions, secure: boolean, callback: ConnectionCallback | undefined): boolean {
  const host = (options.host ?? options.hostname ?? 'localhost').replace(/^\[|\]$/g, '');
  const port = options.port ? Number(options.port) : secure ? 443 : 80;
  const proxy = policy.route(host, port, secure);
  if (!proxy) return false;
  openTunnel(proxy, host, port, { timeoutMs: options.timeout }).then(
    (socket) => callback?.(null, secure ? tlsInside(socket, host, options) : socket),
    (err: Error) => callback?.(err, undefined as unknown as Duplex),
  );
  return true;
}

/** An agent for `secure` (https) or plain (http) requests that follows `policy`. */
export function proxyAgent(policy: ProxyPolicy, secure: boolean, options: http.AgentOptions = {}): http.Agent {
  return secure ? new ProxyHttpsAgent(policy, options) : new ProxyHttpAgent(policy, options);
}

/** The request's TLS settings (trust, server name) applied end to end, over the tunnel. */
function tlsInside(socket: Socket, host: string, options: https.RequestOptions): tls.TLSSocket {
  const settings: tls.ConnectionOptions & { path?: unknown } = { ...(options as tls.ConnectionOptions), socket };
  // Only host and port of the request matter to TLS; its path is not a Unix socket.
  delete settings.path;
  settings.servername = options.servername ?? (isIP(host) ? undefined : host);
  return tls.connect(settings);
}
