import type { HybridConnectionStream } from '../client/index.js';
import type { ByteMeter } from '../forwarding/lifecycle/tracked-connection.js';
import { DATAGRAM_HEADER_LENGTH, DatagramDecoder, encodeDatagram, MAX_DATAGRAM_LENGTH } from '../protocol/udp-framing.js';
import { clearTimer } from '../util/clear-timer.js';

/** azbridge expires a UDP route after 4 minutes without a datagram in either direction. */
export const UDP_IDLE_MS = 4 * 60_000;
/** Datagrams waiting for the relay socket to drain before new ones are dropped (UDP may lose them). */
const MAX_UNSENT = 256;

export type DatagramChannelEnd = 'closed' | 'idle' | 'relay-error' | 'shutdown';

export interface DatagramChannelStats {
  datagramsSent: number;
  datagramsReceived: number;
  dropped: number;
  durationMs: number;
}

export interface DatagramChannelOptions {
  onDatagram(payload: Buffer): void;
  onEnd(how: DatagramChannelEnd, stats: DatagramChannelStats, error?: Error): void;
  idleMs?: number;
  /** Where the payload bytes are counted (the flow's tracked connection). */
  meter: ByteMeter;
}

/**
 * UDP datagrams over a relayed stream (reference/azbridge.md §3.4), or over a stream of a
 * multiplexed session with the same framing: each datagram goes out as one message holding a 2-byte
 * big-endian length and the payload; incoming bytes are split back into datagrams however the
 * stream chunks them. The channel ends after `idleMs` without traffic, when
 * the peer closes, or on a relay error, and reports that once through onEnd.
 */
export class DatagramChannel {
  private readonly decoder = new DatagramDecoder();
  private readonly started = Date.now();
  private readonly idleMs: number;
  private idleTimer: NodeJS.Timeout | undefined;
  private unsent = 0;
  private ended = false;
  private readonly stats = { datagramsSent: 0, datagramsReceived: 0, dropped: 0 };
  private readonly meter: ByteMeter;

  constructor(
    private readonly stream: HybridConnectionStream,
    private readonly options: DatagramChannelOptions,
  ) {
    this.idleMs = options.idleMs ?? UDP_IDLE_MS;
    this.meter = options.meter;
    this.touch();
    stream.on('data', (chunk: Buffer) => {
      this.touch();
      for (const payload of this.decoder.push(chunk)) {
        this.stats.datagramsReceived++;
        this.meter.fromRelay += payload.length;
        options.onDatagram(payload);
      }
    });
    stream.once('end', () => this.finish('closed'));
    stream.once('error', (err: Error) => this.finish('relay-error', err));
    stream.once('close', () => this.finish('closed'));
  }

  get isOpen(): boolean {
    return !this.ended;
  }

  /**
   * Sends one datagram; returns false when it was dropped: the channel ended, the datagram is too
   * large, the backlog is full, or (a stream of a multiplexed session) the peer's credit does not
   * cover it. A datagram is never queued for credit: UDP may lose it, and late datagrams are worth
   * less than memory that stays bounded by the stream's window.
   */
  send(payload: Buffer): boolean {
    if (this.ended || this.stream.destroyed || this.stream.writableEnded || payload.length > MAX_DATAGRAM_LENGTH || this.unsent >= MAX_UNSENT || !this.creditCovers(payload)) {
      this.stats.dropped++;
      return false;
    }
    this.touch();
    this.stats.datagramsSent++;
    this.meter.toRelay += payload.length;
    this.unsent++;
    this.stream.sendMessage(encodeDatagram(payload)).then(
      () => this.unsent--,
      () => this.unsent--,
    );
    return true;
  }

  private creditCovers(payload: Buffer): boolean {
    const room = this.stream.sendRoom;
    return room === undefined || room >= DATAGRAM_HEADER_LENGTH + payload.length;
  }

  /** Ends the channel: half-closes the relayed stream and gives the peer a moment to close its side. */
  close(how: DatagramChannelEnd = 'closed'): void {
    this.finish(how);
  }

  private touch(): void {
    if (this.ended) return;
    if (this.idleTimer) this.idleTimer.refresh();
    else {
      this.idleTimer = setTimeout(() => this.finish('idle'), this.idleMs);
      this.idleTimer.unref();
    }
  }

  private finish(how: DatagramChannelEnd, error?: Error): void {
    if (this.ended) return;
    this.ended = true;
    clearTimer(this.idleTimer);
    const stream = this.stream;
    stream.on('error', () => undefined);
    if (how === 'relay-error') stream.destroy();
    else if (!stream.destroyed) {
      stream.end();
      stream.resume();
      setTimeout(() => stream.destroy(), 5000).unref();
    }
    this.options.onEnd(how, { ...this.stats, durationMs: Date.now() - this.started }, error);
  }
}
