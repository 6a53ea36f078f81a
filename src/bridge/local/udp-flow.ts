import { PreambleMode } from '../../protocol/azbridge-preamble.js';
import type { UdpLocalBinding } from '../config/index.js';
import { logConnectionEnd, logSetupFailure, type ConnectionLabel } from '../connection-log.js';
import { DatagramChannel, type DatagramChannelEnd } from '../datagram-channel.js';
import type { LocalContext } from './local-context.js';
import { BridgeOpenError, openBridgeStream, retryMessage } from './open-bridge-stream.js';

/** Datagrams held for a flow whose relayed connection is still opening; more are dropped. */
export const MAX_QUEUED_DATAGRAMS = 32;

/**
 * One UDP client endpoint's flow: its own relayed connection (preamble mode 1), opened in the
 * background so that a slow or failing relay connect never holds up other clients. Datagrams that
 * arrive while it opens wait in a small queue. A relay failure ends this flow only; the next
 * datagram from the same client opens a new one.
 */
export class UdpFlow {
  private channel: DatagramChannel | undefined;
  private queue: Buffer[] = [];
  private droppedWhileOpening = 0;
  private closed = false;
  private readonly abort = new AbortController();
  private readonly startedAt = Date.now();
  private readonly release: () => void;

  constructor(
    private readonly binding: UdpLocalBinding,
    private readonly ctx: LocalContext,
    private readonly label: ConnectionLabel,
    /** Sends a datagram back to this flow's client. */
    private readonly reply: (payload: Buffer) => void,
    /** Called once when the flow is over (the forwarder forgets it). */
    private readonly onClosed: () => void,
  ) {
    this.release = ctx.tracker.add(() => this.close('shutdown'), 'datagram');
    void this.open();
  }

  deliver(payload: Buffer): void {
    if (this.closed) return;
    if (this.channel) {
      this.channel.send(payload);
      return;
    }
    if (this.queue.length < MAX_QUEUED_DATAGRAMS) this.queue.push(payload);
    else this.droppedWhileOpening++;
  }

  close(how: DatagramChannelEnd = 'closed'): void {
    if (this.closed) return;
    this.abort.abort();
    if (this.channel) this.channel.close(how);
    else this.finish();
  }

  private async open(): Promise<void> {
    const { ctx, binding } = this;
    try {
      const stream = await openBridgeStream(ctx.connectorFor(binding.noAuthentication), { mode: PreambleMode.Datagram, portName: binding.portName }, {
        replyTimeoutMs: ctx.replyTimeoutMs,
        signal: this.abort.signal,
        onRetry: (retry, reason, why) => ctx.log.info({ ...this.label, retry, reason }, retryMessage(why)),
      });
      this.label.conn = stream.trackingId;
      if (this.closed || this.abort.signal.aborted) {
        stream.destroy();
        return this.finish();
      }
      this.channel = new DatagramChannel(stream, {
        idleMs: ctx.udpIdleMs,
        onDatagram: (payload) => this.reply(payload),
        onEnd: (how, stats, error) => {
          logConnectionEnd(ctx.log, this.label, {
            sent: stats.bytesSent,
            received: stats.bytesReceived,
            ms: Date.now() - this.startedAt,
            end: how,
            datagrams: `${stats.datagramsSent}/${stats.datagramsReceived}`,
            ...(error ? { error } : {}),
          });
          if (stats.dropped + this.droppedWhileOpening > 0) ctx.log.info({ ...this.label, dropped: stats.dropped + this.droppedWhileOpening }, 'datagrams dropped');
          this.finish();
        },
      });
      ctx.log.debug({ relay: ctx.relayName, port: binding.portName, client: this.label.client, conn: stream.trackingId, setupMs: Date.now() - this.startedAt }, 'datagram flow open');
      for (const payload of this.queue.splice(0)) this.channel.send(payload);
    } catch (err) {
      const failure = err instanceof BridgeOpenError ? err.failure : 'relay-unavailable';
      logSetupFailure(ctx.log, this.label, this.abort.signal.aborted ? 'shutdown' : failure, `${(err as Error).message}${this.queue.length + this.droppedWhileOpening > 0 ? ` (${this.queue.length + this.droppedWhileOpening} datagrams lost)` : ''}`, this.startedAt);
      this.finish();
    }
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.release();
    this.onClosed();
  }
}
