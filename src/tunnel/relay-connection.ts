/**
 * Where the tunnel commands find their relay and credentials: aztunnel's flags and environment
 * (reference aztunnel-and-peers.md §1.2), plus a connection string.
 *
 *   endpoint     --relay  >  connection string Endpoint  >  AZTUNNEL_RELAY_NAME
 *   hyco         --hyco (or the positional name)  >  connection string EntityPath  >  AZTUNNEL_HYCO_NAME
 *   credentials  the connection string's key or signature  >  AZTUNNEL_KEY_NAME + AZTUNNEL_KEY (SAS)
 *                >  Microsoft Entra ID (DefaultAzureCredential), as aztunnel does without both key variables
 *   suffix       --relay-suffix  >  AZTUNNEL_RELAY_SUFFIX  >  .servicebus.windows.net
 *   TLS          --relay-insecure-tls or AZTUNNEL_RELAY_INSECURE_TLS=1 skip certificate checks; --ca adds trust
 *
 * The connection string comes from --connection-string, or from HYBRIDGE_CONNECTION_STRING when
 * none of AZTUNNEL_RELAY_NAME, AZTUNNEL_KEY_NAME, AZTUNNEL_KEY is set.
 */
import type { HybridConnectionOptions } from '../client/connection-options.js';
import { parseConnectionString } from '../protocol/connection-string.js';
import { isValidEntityPath } from '../protocol/relay-endpoint.js';
import { parseRelayArgument } from './relay-argument.js';

export interface RelaySettings {
  relay?: string;
  hyco?: string;
  relaySuffix?: string;
  relayInsecureTls?: boolean;
  connectionString?: string;
  /** Where connectionString came from, for messages (default `--connection-string`). */
  connectionStringSource?: string;
  /** PEM text of extra trusted certificates. */
  ca?: string;
}

export type AuthMode = 'connection-string' | 'sas' | 'entra';

export interface TunnelConnection {
  options: HybridConnectionOptions;
  auth: AuthMode;
  /** Things the user should know (logged as warnings), never containing secrets. */
  warnings: string[];
}

export class RelaySettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RelaySettingsError';
  }
}

export const ENV = {
  relay: 'AZTUNNEL_RELAY_NAME',
  hyco: 'AZTUNNEL_HYCO_NAME',
  keyName: 'AZTUNNEL_KEY_NAME',
  key: 'AZTUNNEL_KEY',
  suffix: 'AZTUNNEL_RELAY_SUFFIX',
  insecureTls: 'AZTUNNEL_RELAY_INSECURE_TLS',
  connectionString: 'HYBRIDGE_CONNECTION_STRING',
} as const;

export function resolveTunnelConnection(settings: RelaySettings, env: NodeJS.ProcessEnv): TunnelConnection {
  const warnings: string[] = [];
  // HYBRIDGE_CONNECTION_STRING may be exported for the management commands; it stands back when the
  // AZTUNNEL_ variables say where and how to connect.
  const aztunnelEnvInUse = [ENV.relay, ENV.keyName, ENV.key].some((name) => nonEmpty(env[name]) !== undefined);
  const csText = nonEmpty(settings.connectionString) ?? (aztunnelEnvInUse ? undefined : nonEmpty(env[ENV.connectionString]));
  let cs;
  try {
    cs = csText ? parseConnectionString(csText) : undefined;
  } catch (err) {
    const source = nonEmpty(settings.connectionString) ? (settings.connectionStringSource ?? '--connection-string') : ENV.connectionString;
    throw new RelaySettingsError(`${source}: ${(err as Error).message}`);
  }

  const suffix = nonEmpty(settings.relaySuffix) ?? nonEmpty(env[ENV.suffix]) ?? '';
  const relayText = nonEmpty(settings.relay) ?? (cs ? undefined : nonEmpty(env[ENV.relay]));
  let endpoint = cs?.endpoint;
  if (relayText) {
    try {
      endpoint = parseRelayArgument(relayText, suffix);
    } catch (err) {
      throw new RelaySettingsError(`--relay: ${(err as Error).message}`);
    }
  }
  if (!endpoint) throw new RelaySettingsError(`no relay given: pass --relay (or set ${ENV.relay}) or --connection-string`);

  const hyco = nonEmpty(settings.hyco) ?? cs?.entityPath ?? nonEmpty(env[ENV.hyco]);
  if (!hyco) throw new RelaySettingsError(`no hybrid connection given: pass --hyco (or set ${ENV.hyco})`);
  if (!isValidEntityPath(hyco)) throw new RelaySettingsError(`"${hyco}" is not a valid hybrid connection name (letters, digits, ".", "_", "-", and "/" between segments)`);

  const insecure = settings.relayInsecureTls === true || isTruthy(env[ENV.insecureTls]);
  if (insecure) warnings.push('TLS certificate checks for the relay are off (--relay-insecure-tls); use this only with a test relay');
  const tls = insecure || settings.ca ? { ...(insecure ? { rejectUnauthorized: false } : {}), ...(settings.ca ? { ca: settings.ca } : {}) } : undefined;

  const options: HybridConnectionOptions = { endpoint, entityPath: hyco, tls };
  const keyName = nonEmpty(env[ENV.keyName]);
  const key = nonEmpty(env[ENV.key]);
  let auth: AuthMode;
  if (cs && (cs.sharedAccessSignature || (cs.sharedAccessKeyName && cs.sharedAccessKey) || cs.managedIdentity)) {
    options.connectionString = csText;
    auth = cs.managedIdentity ? 'entra' : 'connection-string';
  } else if (keyName && key) {
    options.keyName = keyName;
    options.key = key;
    auth = 'sas';
  } else {
    if (keyName || key) warnings.push(`${keyName ? ENV.keyName : ENV.key} is set but ${keyName ? ENV.key : ENV.keyName} is not; using Microsoft Entra ID instead of SAS`);
    options.useEntraId = true;
    auth = 'entra';
  }
  return { options, auth, warnings };
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

function isTruthy(value: string | undefined): boolean {
  return value !== undefined && /^(1|true|yes|on)$/i.test(value.trim());
}
