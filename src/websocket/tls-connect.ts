import type { Socket } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import { clientSecureContext, tlsResumption, type TlsTrust } from './tls-reuse.js';

export interface TlsClientOptions extends TlsTrust {
  rejectUnauthorized?: boolean;
  servername?: string;
}

/**
 * TLS to a relay, on a new TCP connection or end to end inside a proxy tunnel (`through`), with the
 * context built once per trust setting and the server's last session ticket offered (tls-reuse.ts).
 */
export function connectTls(host: string, port: number, trust: TlsClientOptions | undefined, through?: Socket): TLSSocket {
  const servername = trust?.servername ?? (isIpLiteral(host) ? undefined : host);
  const secureContext = clientSecureContext(trust);
  const resumption = tlsResumption(secureContext, host, port, servername);
  const socket = tls.connect({
    host,
    port,
    socket: through,
    servername,
    secureContext,
    session: resumption.session,
    rejectUnauthorized: trust?.rejectUnauthorized !== false,
  });
  resumption.remember(socket);
  return socket;
}

function isIpLiteral(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}
