import type { ConnectionString } from '../../protocol/connection-string.js';
import type { BalanceMode, HealthCheckSettings, LocatedPoolSettings } from './pool-settings.js';

/**
 * The normalized `hybridge bridge` configuration: every layer (machine file, user or -f file, -o,
 * command line) merged, every value checked. Key names follow azbridge's YAML keys
 * (reference/azbridge.md §2) in camelCase.
 */
export interface BridgeConfig {
  /**
   * The namespace connection: AzureRelayConnectionString (or -x, or AZURE_BRIDGE_CONNECTIONSTRING)
   * with AzureRelayEndpoint (-e), AzureRelaySharedAccessKeyName/Key (-K/-k) and
   * AzureRelaySharedAccessSignature (-s) applied over it. Undefined when no endpoint is known.
   * Holds secrets: never log it.
   */
  connection?: ConnectionString;
  addressFamily: AddressFamily;
  /**
   * Source address for the outbound connections of remote forwarders: an IP literal, `localhost`, or
   * a wildcard (`0.0.0.0`, `::`) that means "let the OS choose". Undefined when not set.
   */
  bindAddress?: string;
  /** Local forwarders without an explicit bind address listen on all interfaces instead of loopback. */
  gatewayPorts: boolean;
  /** Keep-alive interval of the listener control channels, seconds; 0 turns pings off. */
  keepAliveInterval: number;
  /** Seconds to wait for a relay connection; undefined means the runtime's default. */
  connectTimeout?: number;
  /**
   * Tries (one per second) before a relay connection counts as failed; undefined (the default) waits
   * as every hybridge sender does: transient failures retried for 30 s (forwarding/relay-wait.ts).
   */
  connectionAttempts?: number;
  exitOnForwardFailure: boolean;
  logLevel: LogLevel;
  logFileName?: string;
  /** Default number of sender connections each local forwarder keeps open ahead of demand. */
  prewarm: number;
  /** Default balancing of target pools (--balance, LoadBalancing); unset means round-robin. */
  loadBalancing?: BalanceMode;
  /** Default health checks of target pools (--health-check, HealthCheck); unset fields take the defaults. */
  healthCheck?: HealthCheckSettings;
  /**
   * UDP flows (client endpoints, each with its own relayed connection) one local UDP forwarder
   * carries at once; datagrams from new clients beyond it are dropped (--max-udp-flows, MaxUdpFlows).
   */
  maxUdpFlows: number;
  localForward: LocalForward[];
  remoteForward: RemoteForward[];
}

export type AddressFamily = 'any' | 'inet' | 'inet6';
export const ADDRESS_FAMILIES: readonly AddressFamily[] = ['any', 'inet', 'inet6'];

/** azbridge's LogLevel values (reference §2.2), lower-cased. */
export type LogLevel = 'none' | 'quiet' | 'fatal' | 'error' | 'info' | 'verbose' | 'debug' | 'debug1' | 'debug2' | 'debug3';
export const LOG_LEVELS: readonly LogLevel[] = ['none', 'quiet', 'fatal', 'error', 'info', 'verbose', 'debug', 'debug1', 'debug2', 'debug3'];

/** One relay (hybrid connection) that local listeners send through. */
export interface LocalForward {
  relayName: string;
  /** Per-forwarder connection string that replaces the global one. Holds secrets. */
  connectionString?: string;
  /** Sender connections kept open ahead of demand: the entry's Prewarm, else the global one. */
  prewarm: number;
  bindings: LocalBinding[];
  /** Where the entry was defined (`-L 3000:db`, `/etc/azbridge/x.yml:12:5`), for messages. */
  source: string;
}

interface LocalBindingBase {
  /** Logical port name sent in the preamble. */
  portName: string;
  /** Informational DNS name of the remote service (azbridge's HostName). */
  hostName?: string;
  /** Connect to the relay without a token (hybrid connections that allow anonymous senders). */
  noAuthentication: boolean;
}

export interface TcpLocalBinding extends LocalBindingBase {
  kind: 'tcp';
  /** IP literal or host name; undefined means loopback, or all interfaces with GatewayPorts. */
  bindAddress?: string;
  port: number;
}

export interface UdpLocalBinding extends LocalBindingBase {
  kind: 'udp';
  bindAddress?: string;
  port: number;
}

export interface UnixLocalBinding extends LocalBindingBase {
  kind: 'unix';
  /** Socket path as given (relative paths are relative to the working directory). */
  path: string;
}

export type LocalBinding = TcpLocalBinding | UdpLocalBinding | UnixLocalBinding;

/** One relay this process listens on, and the targets its port names lead to. */
export interface RemoteForward {
  relayName: string;
  connectionString?: string;
  /**
   * Targets in definition order. Several may share a port name: the runtime treats those as a pool
   * (see pool-policy.ts).
   */
  bindings: RemoteBinding[];
  source: string;
}

export interface TcpRemoteBinding {
  kind: 'tcp';
  portName: string;
  /** LoadBalancing / HealthCheck written on this binding or its entry. */
  pool?: LocatedPoolSettings;
  /** Host name or IP literal (without brackets). */
  host: string;
  port: number;
}

export interface UdpRemoteBinding {
  kind: 'udp';
  portName: string;
  /** LoadBalancing / HealthCheck written on this binding or its entry. */
  pool?: LocatedPoolSettings;
  host: string;
  port: number;
}

export interface UnixRemoteBinding {
  kind: 'unix';
  portName: string;
  pool?: LocatedPoolSettings;
  path: string;
}

/** `-H`: HTTP requests arriving at the relay are proxied to `scheme://host:port/path`. */
export interface HttpRemoteBinding {
  kind: 'http';
  portName: 'http' | 'https';
  scheme: 'http' | 'https';
  host: string;
  port: number;
  /** Path prefix on the target; always starts and ends with `/`. */
  path: string;
  /** Skip TLS certificate validation towards an https target. */
  insecure: boolean;
}

export type RemoteBinding = TcpRemoteBinding | UdpRemoteBinding | UnixRemoteBinding | HttpRemoteBinding;

export const DEFAULT_KEEP_ALIVE_SECONDS = 30;
export const DEFAULT_MAX_UDP_FLOWS = 1000;
/** azbridge's code default (CONFIG.md says false, the code runs with true). */
export const DEFAULT_EXIT_ON_FORWARD_FAILURE = true;
/** CONFIG.md's documented default; the bridge logs one line per connection at this level. */
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';
