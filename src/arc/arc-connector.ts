/**
 * One Arc connection, end to end: fresh relay credentials from ARM (creating the endpoint when it
 * is missing), then the relay dial, both within one bounded wait. `arc connect` opens one;
 * `arc port-forward` opens one per local connection, so a long-running forwarder never uses
 * expired credentials. The ARM token behind the credentials is cached by the ArmClient's provider.
 */
import type { HybridConnectionStream } from '../client/hybrid-connection-stream.js';
import type { ProxyPolicy } from '../proxy/proxy-policy.js';
import type { TlsClientOptions } from '../websocket/client-handshake.js';
import type { ArcCredentialSource, ArcTarget } from './arc-credentials.js';
import { dialArcRelay } from './arc-dial.js';

export interface ArcConnectorOptions {
  source: ArcCredentialSource;
  target: ArcTarget;
  /** The bound on credentials plus dial (`--timeout`). */
  waitMs: number;
  /** Extra trust for the relay (--ca). */
  tls?: TlsClientOptions;
  /** The proxy the relay is reached through (default: none). */
  proxy?: ProxyPolicy;
  /** One line of progress, for stderr or the log. */
  progress: (line: string) => void;
}

/** How long after creating the endpoint a wait is explained as the agent registering. */
const REGISTRATION_MS = 120_000;

export class ArcConnector {
  private createdAt: number | undefined;

  constructor(private readonly options: ArcConnectorOptions) {}

  /** Throws ArcSetupError (ARM) or ArcDialError (relay), each with a one-line message. */
  async open(signal?: AbortSignal): Promise<HybridConnectionStream> {
    const { source, target, waitMs, progress } = this.options;
    const startedAt = Date.now();
    const { credentials, created } = await source.fetch(startedAt + waitMs, progress, signal);
    if (created) this.createdAt = Date.now();
    return dialArcRelay(credentials, {
      port: target.port,
      machineName: target.machine.name,
      tls: this.options.tls,
      proxy: this.options.proxy,
      startedAt,
      totalMs: waitMs,
      justCreated: this.createdAt !== undefined && Date.now() - this.createdAt < REGISTRATION_MS,
      progress,
      signal,
    });
  }

  /** Gets credentials once (creating the endpoint if needed), so that ARM problems show before anything listens. */
  async check(): Promise<void> {
    const { created } = await this.options.source.fetch(Date.now() + this.options.waitMs, this.options.progress);
    if (created) this.createdAt = Date.now();
  }
}
