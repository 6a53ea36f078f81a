import type { CreateConnectionOptions, HybridConnectionClient } from '../client/hybrid-connection-client.js';
import type { HybridConnectionStream } from '../client/hybrid-connection-stream.js';
import { MuxConnector } from '../mux/mux-connector.js';
import type { HelloStyle } from '../mux/negotiation.js';
import type { Logger } from '../util/logger.js';
import { SenderPool } from './sender-pool.js';

export interface ReadyStreamsOptions {
  /** Relayed connections kept open ahead of demand (`--prewarm`); 0 = none. */
  prewarm?: number;
  /** Multiplexed sessions kept open to a hybridge listener side (`--mux`); 0 = none. */
  mux?: number;
  /** The session hello: azbridge style for bridge -L, aztunnel style for relay-sender. */
  style: HelloStyle;
  /** How the prewarm pool opens its connections. */
  connectOptions?: CreateConnectionOptions;
  /** Limit for opening one multiplexed session. */
  muxOpenTimeoutMs?: number;
  log: Logger;
}

/**
 * The sender end's connections that cost no relay round trip when a client arrives: a stream of a
 * multiplexed session (no round trip at all), else a prewarmed relayed connection (the rendezvous
 * done ahead). bridge -L and relay-sender both take from one; when it has nothing, each opens a
 * relayed connection with its own policy (port routing and attempts; the tunnel's retry budget).
 */
export class ReadyStreams {
  private readonly pool: SenderPool | undefined;
  private readonly mux: MuxConnector | undefined;

  constructor(client: HybridConnectionClient, options: ReadyStreamsOptions) {
    if ((options.prewarm ?? 0) > 0) this.pool = new SenderPool(client, { size: options.prewarm!, connectOptions: options.connectOptions, log: options.log });
    if ((options.mux ?? 0) > 0) {
      this.mux = new MuxConnector(client, { sessions: options.mux!, style: options.style, log: options.log, openTimeoutMs: options.muxOpenTimeoutMs });
      this.mux.start();
    }
  }

  /** A stream of a session, or a prewarmed connection, or undefined when neither is ready now. */
  take(): HybridConnectionStream | undefined {
    return this.mux?.openStream() ?? this.pool?.take();
  }

  /** Prewarmed connections ready now; undefined without a prewarm pool. */
  get prewarmReady(): number | undefined {
    return this.pool?.readyCount;
  }

  close(): void {
    this.pool?.close();
    this.mux?.close();
  }
}
