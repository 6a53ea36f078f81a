import type { AddressFamily, LocalForward, LogLevel, RemoteForward } from './model.js';
import type { BalanceMode, HealthCheckSettings } from './pool-settings.js';

/**
 * One source of configuration (a file, the -o overrides, the command line) before merging. Only what
 * the source states is set; merging decides what wins (merge-layers.ts).
 */
export interface ConfigLayer {
  /** Shown in messages: a file path, "-o", "command line", "environment". */
  source: string;
  settings: LayerSettings;
  credentials: LayerCredentials;
  clearAllForwardings?: boolean;
  localForward: LocalForwardEntry[];
  remoteForward: RemoteForward[];
}

export interface LayerSettings {
  addressFamily?: AddressFamily;
  bindAddress?: string;
  gatewayPorts?: boolean;
  keepAliveInterval?: number;
  connectTimeout?: number;
  connectionAttempts?: number;
  exitOnForwardFailure?: boolean;
  logLevel?: LogLevel;
  logFileName?: string;
  prewarm?: number;
  mux?: number;
  maxUdpFlows?: number;
  loadBalancing?: BalanceMode;
  /** Merged field by field with the layers below. */
  healthCheck?: HealthCheckSettings;
}

/** A value and where it was written, so that a later consistency error can point at it. */
export interface Located<T> {
  value: T;
  where: string;
}

/** Relay credentials exactly as one layer states them (each already checked on its own). */
export interface LayerCredentials {
  connectionString?: Located<string>;
  endpoint?: Located<string>;
  keyName?: Located<string>;
  key?: Located<string>;
  signature?: Located<string>;
}

/** A LocalForward as a layer states it: Prewarm falls back to the global value after merging. */
export type LocalForwardEntry = Omit<LocalForward, 'prewarm'> & { prewarm?: number };

export function emptyLayer(source: string): ConfigLayer {
  return { source, settings: {}, credentials: {}, localForward: [], remoteForward: [] };
}
