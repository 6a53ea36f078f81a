import { HybridConnectionStream, type RelayedMessage } from '../client/hybrid-connection-stream.js';
import type { Logger } from '../util/logger.js';
import type { MuxChannel } from './mux-channel.js';
import { muxAccept, muxHelloStyle } from './negotiation.js';
import { DEFAULT_MAX_FRAME, MuxSession } from './session.js';

export interface MuxListenerOptions {
  log: Logger;
  /**
   * Serves one stream of a session exactly like a relayed connection of its own: its first message
   * (the stream's OPEN) is the preamble or envelope, so the same handlers, allowlists, limits and
   * logs apply.
   */
  serve(stream: HybridConnectionStream): void;
  /** Sent back in the aztunnel-style acceptance (`listener_id`). */
  listenerId?: string;
  /** Streams per session (default DEFAULT_MAX_STREAMS). */
  maxStreams?: number;
  window?: number;
  /** Largest LONG frame taken (default DEFAULT_MAX_FRAME; 16 KiB: frame version 1 only). */
  maxFrame?: number;
  keepAliveMs?: number;
}

/**
 * The listener end of multiplexed sessions: takes a relayed connection whose first message is a mux
 * hello, answers it, and turns every stream the sender opens into a HybridConnectionStream for
 * `serve`. Streams of a session never start a session of their own.
 */
export class MuxListener {
  private readonly sessions = new Set<MuxSession>();
  private readonly nested = new WeakSet<HybridConnectionStream>();
  private goingAway = false;

  constructor(private readonly options: MuxListenerOptions) {}

  get sessionCount(): number {
    return this.sessions.size;
  }

  /**
   * Serves `stream` as a session when `first` is a mux hello; resolves true once the session has
   * ended, false at once when it is not one (the caller serves the connection as usual).
   */
  async accept(stream: HybridConnectionStream, first: RelayedMessage): Promise<boolean> {
    const style = muxHelloStyle(first);
    if (!style || this.goingAway || this.nested.has(stream)) return false;
    const log = this.options.log;
    const conn = stream.trackingId;
    const maxFrame = this.options.maxFrame ?? DEFAULT_MAX_FRAME;
    // Azbridge style, the acceptance leads the session's first message (its SETTINGS and offer follow).
    const prefix = style === 'azbridge' ? (muxAccept(style) as Buffer) : undefined;
    if (!prefix) {
      try {
        await stream.sendMessage(muxAccept(style, this.options.listenerId, maxFrame));
      } catch (err) {
        log.info({ conn, reason: (err as Error).message }, 'sender left before its multiplexed session opened');
        stream.destroy();
        return true;
      }
    }
    let served = 0;
    await new Promise<void>((resolve) => {
      const session = new MuxSession(stream, {
        role: 'acceptor',
        maxStreams: this.options.maxStreams,
        window: this.options.window,
        maxFrame,
        prefix,
        keepAliveMs: this.options.keepAliveMs,
        onStream: (channel) => {
          served++;
          this.serveChannel(stream, channel);
        },
        onClose: (error) => {
          this.sessions.delete(session);
          const fields = { conn, streams: served };
          if (error) log.info({ ...fields, reason: error.message }, 'multiplexed session ended abruptly');
          else log.info(fields, 'multiplexed session closed');
          resolve();
        },
      });
      this.sessions.add(session);
      log.info({ conn, style }, 'multiplexed session open');
    });
    return true;
  }

  /** No new streams on any session (shutdown); each ends once its streams have. */
  goAway(): void {
    this.goingAway = true;
    for (const session of this.sessions) session.goAway();
  }

  private serveChannel(parent: HybridConnectionStream, channel: MuxChannel): void {
    const info = { trackingId: `${parent.trackingId}/${channel.id}`, remoteEndpoint: parent.info.remoteEndpoint, pathSuffix: parent.info.pathSuffix, query: parent.info.query };
    const stream = new HybridConnectionStream(channel, info, undefined, { keepAliveIntervalMs: 0 });
    this.nested.add(stream);
    this.options.serve(stream);
  }
}
