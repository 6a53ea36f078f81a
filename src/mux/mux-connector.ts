import type { HybridConnectionClient } from '../client/hybrid-connection-client.js';
import { HybridConnectionStream } from '../client/hybrid-connection-stream.js';
import type { Logger } from '../util/logger.js';
import { sleep } from '../util/sleep.js';
import { muxAccepted, muxHello, type HelloStyle } from './negotiation.js';
import { MuxSession } from './session.js';

export interface MuxConnectorOptions {
  /** Sessions kept open (each one relayed connection, spread by the relay over the pool's listeners). */
  sessions: number;
  /** The hello to send: azbridge style for bridge -L, aztunnel style for relay-sender. */
  style: HelloStyle;
  log: Logger;
  /** Limit for opening one session (relay connect, hello and answer). Default 10 s. */
  openTimeoutMs?: number;
  keepAliveMs?: number;
  window?: number;
  /** Largest LONG frame taken (default DEFAULT_MAX_FRAME; 16 KiB: frame version 1 only). */
  maxFrame?: number;
  /** After a listener that does not multiplex, ask again this much later (default 60 s). */
  recheckMs?: number;
}

/** Upper bound of the delay between attempts to (re)open a session. */
const MAX_BACKOFF_MS = 30_000;
const FIRST_BACKOFF_MS = 250;
/** A session that lived this long resets the backoff. */
const STABLE_MS = 10_000;
const DEFAULT_OPEN_TIMEOUT_MS = 10_000;
const DEFAULT_RECHECK_MS = 60_000;

/**
 * The sender end of multiplexed sessions: keeps `sessions` of them open to the listener side,
 * re-opens each one that fails (with backoff) or is told to go away, and hands out streams on the
 * least loaded one. When no session is ready (still opening, or the listener is an azbridge/aztunnel
 * that answered the hello with a refusal) openStream() returns undefined and the caller opens a
 * relayed connection of its own, as without multiplexing.
 */
export class MuxConnector {
  private readonly live: (MuxSession | undefined)[];
  private readonly stopper = new AbortController();
  private notMultiplexing = false;
  private started = false;

  constructor(
    private readonly client: HybridConnectionClient,
    private readonly options: MuxConnectorOptions,
  ) {
    if (!Number.isInteger(options.sessions) || options.sessions < 1) throw new RangeError('sessions must be a positive integer');
    this.live = new Array<MuxSession | undefined>(options.sessions).fill(undefined);
  }

  /** Opens the sessions in the background. */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (let slot = 0; slot < this.live.length; slot++) void this.keepOpen(slot);
  }

  get readySessions(): number {
    return this.live.filter((s) => s?.canOpen).length;
  }

  /** A new stream on the least loaded session, or undefined when none can take one now. */
  openStream(): HybridConnectionStream | undefined {
    let best: MuxSession | undefined;
    for (const session of this.live) if (session?.canOpen && (!best || session.activeStreams < best.activeStreams)) best = session;
    if (!best) return undefined;
    const channel = best.openStream();
    return new HybridConnectionStream(channel, { trackingId: `${sessionIds.get(best) ?? 'mux'}/${channel.id}` }, undefined, { keepAliveIntervalMs: 0 });
  }

  /** Stops re-opening; every session goes away once its streams have ended. */
  close(): void {
    this.stopper.abort();
    for (const session of this.live) session?.goAway();
  }

  private async keepOpen(slot: number): Promise<void> {
    const signal = this.stopper.signal;
    let backoff = FIRST_BACKOFF_MS;
    while (!signal.aborted) {
      const openedAt = Date.now();
      let session: MuxSession | undefined;
      try {
        session = await this.openSession();
      } catch (err) {
        this.options.log.debug({ slot, reason: (err as Error).message }, 'multiplexed session could not be opened; retrying');
      }
      if (session === undefined && this.notMultiplexing) {
        await sleep(this.options.recheckMs ?? DEFAULT_RECHECK_MS, signal);
        this.notMultiplexing = false;
        continue;
      }
      if (session) {
        if (signal.aborted) {
          session.goAway();
          return;
        }
        this.live[slot] = session;
        await session.untilUnusable();
        if (this.live[slot] === session) this.live[slot] = undefined;
        if (Date.now() - openedAt >= STABLE_MS) backoff = FIRST_BACKOFF_MS;
      }
      await sleep(backoff, signal);
      backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
    }
  }

  /** One relayed connection, the hello, the answer; undefined (and notMultiplexing) when the listener refused it. */
  private async openSession(): Promise<MuxSession | undefined> {
    const timeoutMs = this.options.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS;
    const stream = await this.client.createConnection({ retryBudgetMs: 0, attemptTimeoutMs: timeoutMs, signal: this.stopper.signal, keepAliveIntervalMs: this.options.keepAliveMs });
    stream.on('error', () => undefined);
    try {
      await stream.sendMessage(muxHello(this.options.style));
      const answer = await stream.readMessage(timeoutMs);
      const { accepted, rest, peerMaxFrame } = muxAccepted(this.options.style, answer);
      if (!accepted) {
        if (!this.notMultiplexing) this.options.log.info({ hyco: this.client.connection.entityPath }, 'the listener does not multiplex; one relayed connection per client connection');
        this.notMultiplexing = true;
        stream.close(1000, 'done');
        return undefined;
      }
      const session = new MuxSession(stream, { role: 'initiator', keepAliveMs: this.options.keepAliveMs, window: this.options.window, maxFrame: this.options.maxFrame, peerMaxFrame }, rest);
      sessionIds.set(session, stream.trackingId);
      await session.whenReady();
      this.options.log.info({ conn: stream.trackingId }, 'multiplexed session open');
      return session;
    } catch (err) {
      stream.destroy();
      throw err;
    }
  }
}

const sessionIds = new WeakMap<MuxSession, string>();
