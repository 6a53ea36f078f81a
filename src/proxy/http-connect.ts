/**
 * An HTTP CONNECT tunnel (RFC 9110 §9.3.6) on a connection to an HTTP proxy: the request, with
 * Basic credentials when the proxy URL has them (RFC 7617), and the proxy's answer. Any 2xx opens
 * the tunnel; the bytes after the answer's head belong to the tunnel.
 */
import type { Socket } from 'node:net';
import { encodeRequestHead, HttpMessageError, MAX_RESPONSE_HEAD_BYTES, parseResponseHead, type ResponseHead } from '../protocol/http-message-head.js';
import { ProxyError } from './proxy-error.js';
import type { ProxyServer } from './proxy-url.js';
import { readMessage } from './read-message.js';

export async function httpConnect(socket: Socket, proxy: ProxyServer, target: string): Promise<void> {
  const headers: Record<string, string> = { Host: target };
  if (proxy.username !== undefined) {
    headers['Proxy-Authorization'] = `Basic ${Buffer.from(`${proxy.username}:${proxy.password ?? ''}`, 'utf8').toString('base64')}`;
  }
  socket.write(encodeRequestHead('CONNECT', target, headers));
  let head: ResponseHead;
  try {
    head = await readMessage(socket, (buffered) => {
      const parsed = parseResponseHead(buffered);
      return parsed && { value: parsed, length: parsed.length };
    }, MAX_RESPONSE_HEAD_BYTES);
  } catch (err) {
    if (!(err instanceof HttpMessageError)) throw err;
    throw new ProxyError(proxy.label, 'protocol', `proxy ${proxy.label} did not answer as an HTTP proxy (${err.message}); for a SOCKS5 proxy write socks5://`);
  }
  if (head.statusCode >= 200 && head.statusCode < 300) return;
  throw refusal(proxy, target, head);
}

function refusal(proxy: ProxyServer, target: string, head: ResponseHead): ProxyError {
  const status = `${head.statusCode} ${head.statusMessage}`.trim();
  const says = `proxy ${proxy.label} refused the tunnel to ${target}: ${status}`;
  if (head.statusCode === 407) {
    const hint =
      proxy.username === undefined
        ? 'it wants a user name and password: give them in the proxy URL (http://user:password@host:port)'
        : `check the user name and password in the proxy URL${proxyAuthScheme(head)}`;
    return new ProxyError(proxy.label, 'authentication', `${says}; ${hint}`, head.statusCode);
  }
  if (head.statusCode === 403) {
    return new ProxyError(proxy.label, 'forbidden', `${says}; the proxy's rules do not allow a tunnel to this host and port (many allow CONNECT to port 443 only)`, head.statusCode);
  }
  return new ProxyError(proxy.label, 'refused', says, head.statusCode);
}

/** A proxy that offers no Basic scheme cannot be satisfied by any password in the URL. */
function proxyAuthScheme(head: ResponseHead): string {
  const offered = String(head.headers['proxy-authenticate'] ?? '');
  if (!offered || /(^|,)\s*basic\b/i.test(offered)) return '';
  const schemes = offered.split(',').map((s) => s.trim().split(/\s+/)[0]).filter((s) => s && !s.includes('='));
  return ` (the proxy offers ${schemes.join(', ')} only; hybridge speaks Basic)`;
}
