/**
 * `relay-sender socks5-proxy`: a SOCKS5 server (RFC 1928, CONNECT only, optional RFC 1929
 * username/password) whose every CONNECT becomes one tunnel. Domain names travel unresolved to the
 * listener (socks5h behaviour). A refusal from the listener becomes the matching SOCKS5 reply code:
 * 0x02 for the allowlist, 0x05 refused, 0x03/0x04 unreachable, 0x06 timeout, 0x01 otherwise.
 */
import type { Socket } from 'node:net';
import type { TrackedConnection } from '../forwarding/lifecycle/tracked-connection.js';
import { EarlyBytes } from '../forwarding/early-bytes.js';
import { pumpTracked } from '../forwarding/pump-tracked.js';
import type { LocalConnectionHandler } from './local-tunnel-server.js';
import { openTracked } from './open-tracked.js';
import { encodeSocks5Reply, Socks5Reply, Socks5ServerHandshake, type CredentialCheck, type Socks5ConnectRequest, type Socks5ReplyCode } from './socks5-protocol.js';
import { socks5ReplyFor } from './tunnel-failures.js';
import type { SenderEnd } from '../forwarding/sender-end.js';
import { clearTimer } from '../util/clear-timer.js';

/** The whole negotiation, greeting to CONNECT request, must fit in this (aztunnel: 30 s). */
export const SOCKS5_HANDSHAKE_TIMEOUT_MS = 30_000;

export interface Socks5ProxyOptions {
  sender: SenderEnd;
  checkCredentials?: CredentialCheck;
  handshakeTimeoutMs?: number;
}

export function socks5ProxyHandler(options: Socks5ProxyOptions): LocalConnectionHandler {
  const { sender } = options;
  return async (socket: Socket, connection: TrackedConnection, signal: AbortSignal) => {
    const negotiated = await negotiate(socket, options);
    if ('failure' in negotiated) {
      connection.end({ end: 'refused', reason: `SOCKS5 handshake failed: ${negotiated.failure}` });
      socket.end();
      return;
    }
    const { request, username } = negotiated;
    connection.update({ user: username, target: request.target });
    let refusal: Socks5ReplyCode | undefined;
    // An optimistic client's bytes after its CONNECT go ahead behind the envelope.
    const early = new EarlyBytes(socket);
    const tunnel = await openTracked(sender, request.target, connection, signal, (failure) => {
      refusal = socks5ReplyFor(failure);
      return { socksReply: `0x0${refusal}` };
    }, early);
    if (!tunnel) {
      if (!socket.destroyed && refusal !== undefined) socket.end(encodeSocks5Reply(refusal));
      return;
    }
    if (socket.destroyed) {
      connection.end({ end: 'client-gone', reason: 'the client closed before the tunnel was open' });
      tunnel.stream.destroy();
      return;
    }
    socket.write(encodeSocks5Reply(Socks5Reply.Succeeded, { host: socket.localAddress ?? '0.0.0.0', port: socket.localPort ?? 0 }));
    connection.established({}, 'info');
    await pumpTracked(socket, tunnel.stream, connection, { peerHalfClose: tunnel.peerHalfClose });
  };
}

type Negotiated = { request: Socks5ConnectRequest; username: string | undefined } | { failure: string };

/** Runs the handshake on the socket; on success the socket is paused with any early bytes unshifted. */
function negotiate(socket: Socket, options: Socks5ProxyOptions): Promise<Negotiated> {
  const handshake = new Socks5ServerHandshake({ checkCredentials: options.checkCredentials });
  return new Promise((resolve) => {
    let username: string | undefined;
    const timer = setTimeout(() => finish({ failure: `no CONNECT request within ${options.handshakeTimeoutMs ?? SOCKS5_HANDSHAKE_TIMEOUT_MS} ms` }), options.handshakeTimeoutMs ?? SOCKS5_HANDSHAKE_TIMEOUT_MS);
    const onEnd = () => finish({ failure: 'the client closed the connection during the handshake' });
    const onClose = () => finish({ failure: 'the client went away during the handshake' });
    function finish(result: Negotiated): void {
      clearTimer(timer);
      socket.pause();
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onClose);
      resolve(result);
    }
    function onData(chunk: Buffer): void {
      for (const action of handshake.feed(chunk)) {
        if (action.type === 'write') socket.write(action.bytes);
        else if (action.type === 'authenticated') username = action.username;
        else if (action.type === 'fail') return finish({ failure: action.reason });
        else {
          finish({ request: action.request, username });
          if (action.leftover.length > 0) socket.unshift(action.leftover);
          return;
        }
      }
    }
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onClose);
  });
}
