/**
 * The messages a connection's ends exchange before its bytes (an aztunnel envelope and its response,
 * a refusal): one message each. A peer can vanish at any moment, so every send is bounded by the
 * stream closing and by a timeout.
 */
import type { HybridConnectionStream } from '../client/hybrid-connection-stream.js';
import { clearTimer } from '../util/clear-timer.js';

const SEND_TIMEOUT_MS = 30_000;

/** Sends one message (text for a string); rejects when the stream is gone, closes first, or the send stalls. */
export function sendRelayMessage(stream: HybridConnectionStream, data: string | Buffer, timeoutMs = SEND_TIMEOUT_MS): Promise<void> {
  if (stream.destroyed || stream.writableEnded) return Promise.reject(new Error('the relayed connection is already closed'));
  return new Promise<void>((resolve, reject) => {
    const onClose = () => settle(new Error('the relayed connection closed while sending'));
    const timer = setTimeout(() => settle(new Error(`sending a message took longer than ${timeoutMs} ms`)), timeoutMs);
    function settle(error?: Error): void {
      clearTimer(timer);
      stream.off('close', onClose);
      if (error) reject(error);
      else resolve();
    }
    stream.once('close', onClose);
    stream.sendMessage(data).then(
      () => settle(),
      (err: Error) => settle(err),
    );
  });
}

/**
 * Ends a connection that will carry no tunnel: a WebSocket close (1000 "done", as aztunnel's
 * listener sends) after whatever was already sent, without waiting for the peer.
 */
export function closeQuietly(stream: HybridConnectionStream, reason = 'done'): void {
  stream.on('error', () => undefined);
  if (!stream.destroyed) stream.close(1000, reason);
}
