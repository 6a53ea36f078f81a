import { PreambleMode } from '../../protocol/azbridge-preamble.js';
import type { UdpLocalBinding } from '../config/index.js';
import type { ConnectionFields } from '../../forwarding/lifecycle/connection-fields.js';
import type { ConnectionOutcome, TrackedConnection } from '../../forwarding/lifecycle/tracked-connection.js';
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
  private readonly connection: TrackedConnection;

  constructor(
    private readonly binding: UdpLocalBinding,
    private readonly ctx: LocalContext,
    fields: ConnectionFields,
    /** Sends a datagram back to this flow's client. */
    private readonly reply: (payload: Buffer) => void,
    /** Called once when the flow is over (the forwarder forgets it). */
    private readonly onClosed: () => void,
  ) {
    this.connection = ctx.lifecycle.open({ role: 'sender', kind: 'datagram', fields, abort: () => this.close('shutdown') });
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
    else this.finish({ end: 'shutdown', reason: 'closed before the relayed connection was open' });
  }

  private async open(): Promise<void> {
    const { ctx, binding, connection } = this;
    const dialStarted = Date.now();
    try {
      const stream = await openBridgeStream(ctx.senderFor(binding.noAuthentication), { mode: PreambleMode.Datagram, portName: binding.portName }, {
        replyTimeoutMs: ctx.replyTimeoutMs,
        signal: this.abort.signal,
        onRetry: (retry, reason, why) => connection.log.info({ retry, reason }, retryMessage(why)),
      });
      connection.dialed(Date.now() - dialStarted, undefined);
      connection.update({ trackingId: stream.trackingId });
      if (this.closed || this.abort.signal.aborted) {
        stream.destroy();
        return this.finish({ end: 'shutdown' });
      }
      this.channel = new DatagramChannel(stream, {
        idleMs: ctx.udpIdleMs,
        meter: connection,
        onDatagram: (payload) => this.reply(payload),
        onEnd: (how, stats, error) => {
          const dropped = stats.dropped + this.droppedWhileOpening;
          const extra = { datagrams: `${stats.datagramsSent}/${stats.datagramsReceived}`, ...(dropped > 0 ? { dropped } : {}) };
          this.finish({ end: how, ...(error ? { reason: error.message } : {}), extra });
        },
      });
      connection.established({ mode: 'datagram' });
      for (const payload of this.queue.splice(0)) this.channel.send(payload);
    } catch (err) {
      const failure = err instanceof BridgeOpenError ? err.failure : 'relay-unavailable';
      if (err instanceof BridgeOpenError && err.trackingId) connection.update({ trackingId: err.trackingId });
      if (!this.abort.signal.aborted) connection.dialed(Date.now() - dialStarted, failure);
      const lost = this.queue.length + this.droppedWhileOpening;
      this.finish({ end: this.abort.signal.aborted ? 'shutdown' : failure, reason: `${(err as Error).message}${lost > 0 ? ` (${lost} datagrams lost)` : ''}` });
    }
  }

  private finish(outcome: ConnectionOutcome): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.connection.end(outcome);
    this.onClosed();
  }
}
