import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { RelaySettingsError, resolveTunnelConnection, type TunnelConnection } from '../tunnel/relay-connection.js';
import type { Logger } from '../util/logger.js';
import { addLogOptions, parseDurationOption, PRECONNECT_HELP, preconnectFlag } from './common-options.js';
import { fail } from './errors.js';
import { readSecret, VISIBLE_IN_PS } from './secret-input.js';
import { addProxyOptions, logProxyPolicy, proxyFrom, type ProxyFlags } from './proxy-options.js';

/** aztunnel's relay flags (`AuthFlags`), shared by relay-listener and every relay-sender command. */
export interface RelayFlags extends ProxyFlags {
  relay?: string;
  namespace?: string;
  hyco?: string;
  relaySuffix?: string;
  relayInsecureTls?: boolean;
  connectionString?: string;
  connectionStringFile?: string;
  ca?: string;
  tokenInQuery?: boolean;
  preconnect?: string;
  logLevel?: string;
  logFormat?: string;
}

export function addRelayOptions(command: Command): Command {
  command
    .option('--relay <relay>', 'relay namespace: a name (my-ns), a host name, or sb://, wss://, https://, ws://, http:// URI [env AZTUNNEL_RELAY_NAME]')
    .addOption(new Option('--namespace <relay>', 'alias of --relay').hideHelp())
    .option('--hyco <name>', 'hybrid connection name [env AZTUNNEL_HYCO_NAME]')
    .option('--relay-suffix <suffix>', 'suffix for bare namespace names (default .servicebus.windows.net) [env AZTUNNEL_RELAY_SUFFIX]')
    .option('--relay-insecure-tls', 'do not check the relay\'s TLS certificate (test relays only) [env AZTUNNEL_RELAY_INSECURE_TLS=1]')
    .option('-x, --connection-string <cs>', `relay connection string (Endpoint, EntityPath, SharedAccessKeyName/SharedAccessKey; ${VISIBLE_IN_PS}) [env HYBRIDGE_CONNECTION_STRING]`)
    .option('--connection-string-file <file>', 'read --connection-string from this file (its first line)')
    .option('--ca <file>', 'PEM file with extra certificates to trust for the relay (or NODE_EXTRA_CA_CERTS)')
    .option('--token-in-query', 'send the token as the sb-hc-token query parameter instead of a header (aztunnel\'s development relay reads only that)')
    .option('--preconnect <n>', PRECONNECT_HELP);
  addProxyOptions(command);
  addLogOptions(command);
  return command;
}

/**
 * The relay connection from flags, a positional hybrid connection name and the environment.
 * Credentials come from AZTUNNEL_KEY_NAME/AZTUNNEL_KEY (SAS), the connection string, or Entra ID.
 */
export function relayConnectionFrom(flags: RelayFlags, positionalHyco: string | undefined, log: Logger): TunnelConnection {
  if (flags.relay && flags.namespace && flags.relay !== flags.namespace) fail('--relay and --namespace name different relays; give one');
  if (flags.hyco && positionalHyco && flags.hyco !== positionalHyco) fail(`the hybrid connection is given twice ("${positionalHyco}" and --hyco ${flags.hyco}); give one`);
  let ca: string | undefined;
  if (flags.ca) {
    try {
      ca = readFileSync(flags.ca, 'utf8');
    } catch (err) {
      fail(`--ca: cannot read ${flags.ca} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
  const connectionString = readSecret({
    flag: { value: flags.connectionString, name: '--connection-string' },
    file: { path: flags.connectionStringFile, name: '--connection-string-file' },
  });
  let resolved: TunnelConnection;
  try {
    resolved = resolveTunnelConnection(
      {
        relay: flags.relay ?? flags.namespace,
        hyco: flags.hyco ?? positionalHyco,
        relaySuffix: flags.relaySuffix,
        relayInsecureTls: flags.relayInsecureTls,
        connectionString: connectionString?.value,
        connectionStringSource: connectionString?.where,
        ca,
      },
      process.env,
    );
  } catch (err) {
    if (err instanceof RelaySettingsError) fail(err.message);
    throw err;
  }
  const proxy = proxyFrom(flags, (line) => log.warn(line));
  resolved.options.proxy = proxy;
  logProxyPolicy(proxy, log);
  for (const warning of resolved.warnings) log.warn(warning);
  if (flags.tokenInQuery) resolved.options.tokenInQuery = true;
  const preconnect = preconnectFlag(flags.preconnect);
  if (preconnect !== undefined) resolved.options.preconnect = preconnect;
  return resolved;
}

/** A duration flag that must be positive (`allowZero` for "0 turns it off"). */
export function durationFlag(text: string, flag: string, allowZero = false): number {
  const ms = parseDurationOption(text, flag);
  if (ms < 0 || (!allowZero && ms === 0)) fail(`${flag} must be ${allowZero ? 'zero or more' : 'more than zero'}, not "${text}"`);
  return ms;
}
