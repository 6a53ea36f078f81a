import { checkSourceAddress, isLocalAddress, type LocalAddressCheck } from './addresses.js';
import { at, ValueError } from './config-error.js';
import { parseHttpForwardOption } from './http-forward-option.js';
import { emptyLayer, type ConfigLayer } from './layer.js';
import { parseLocalForwardOption } from './local-forward-option.js';
import { unquote } from './names.js';
import { checkBalanceMode, parseHealthCheckSpec } from './pool-settings.js';
import { parseLegacyRemoteForwardOption, parseRemoteForwardOption } from './remote-forward-option.js';
import { checkConnectionString, checkEndpoint, checkKey, checkKeyName, checkRange, checkSignature, parseIntegerText, type RANGES } from './values.js';

/** The `hybridge bridge` flags as the CLI parsed them (azbridge's options, reference §1.1). */
export interface BridgeCommandLine {
  /** -f: replaces the user configuration file. */
  configFile?: string;
  /** -e */
  endpoint?: string;
  /** -x */
  connectionString?: string;
  /** -K */
  keyName?: string;
  /** -k */
  key?: string;
  /** -s */
  signature?: string;
  /** -l */
  logFile?: string;
  /** -q: LogLevel NONE; wins over -v. */
  quiet?: boolean;
  /** -v: LogLevel VERBOSE. */
  verbose?: boolean;
  /** -o key:value, in order. */
  options?: readonly string[];
  /** -g */
  gatewayPorts?: boolean;
  /** -b */
  bindAddress?: string;
  /** -a, seconds. */
  keepAlive?: number | string;
  /** -L */
  localForward?: readonly string[];
  /** -T */
  remoteForward?: readonly string[];
  /** -R (hidden legacy form of -T) */
  legacyRemoteForward?: readonly string[];
  /** -H */
  httpForward?: readonly string[];
  /** --prewarm */
  prewarm?: number | string;
  /** --max-udp-flows: MaxUdpFlows. */
  maxUdpFlows?: number | string;
  /** --balance: default LoadBalancing of target pools. */
  balance?: string;
  /** --health-check: default HealthCheck of target pools (off, on, interval=5s,timeout=1s,fail=2,pass=1). */
  healthCheck?: string;
  /** Where -x, -k and -s came from when not from those flags (e.g. `--shared-access-key-file /etc/key`), for messages. */
  secretSources?: { connectionString?: string; key?: string; signature?: string };
}

/**
 * The command line's own layer: scalar flags, then the forwarders in azbridge's order (-L, -R, -T, -H).
 * Messages name the flag; the values of -k, -s and -x are never repeated.
 */
export function commandLineLayer(cli: BridgeCommandLine, isLocal: LocalAddressCheck = isLocalAddress): ConfigLayer {
  const layer = emptyLayer('command line');
  const s = layer.settings;
  const c = layer.credentials;
  const value = (v: string | undefined) => (v === undefined ? undefined : unquote(v));

  const logFile = value(cli.logFile);
  if (logFile !== undefined) s.logFileName = at('-l', () => nonEmpty(logFile, 'log file name'));
  if (cli.verbose) s.logLevel = 'verbose';
  if (cli.quiet) s.logLevel = 'none';
  const bindAddress = value(cli.bindAddress);
  if (bindAddress !== undefined) s.bindAddress = at(`-b "${bindAddress}"`, () => checkSourceAddress(bindAddress, isLocal));
  if (cli.gatewayPorts !== undefined) s.gatewayPorts = cli.gatewayPorts;
  if (cli.keepAlive !== undefined) s.keepAliveInterval = at(`-a "${cli.keepAlive}"`, () => integerFlag(cli.keepAlive, 'KeepAliveInterval'));
  if (cli.prewarm !== undefined) s.prewarm = at(`--prewarm "${cli.prewarm}"`, () => integerFlag(cli.prewarm, 'Prewarm'));
  if (cli.maxUdpFlows !== undefined) s.maxUdpFlows = at(`--max-udp-flows "${cli.maxUdpFlows}"`, () => integerFlag(cli.maxUdpFlows, 'MaxUdpFlows'));
  const balance = value(cli.balance);
  if (balance !== undefined) s.loadBalancing = at(`--balance "${balance}"`, () => checkBalanceMode(balance));
  const healthCheck = value(cli.healthCheck);
  if (healthCheck !== undefined) s.healthCheck = at(`--health-check "${healthCheck}"`, () => parseHealthCheckSpec(healthCheck));

  const sources = { connectionString: '-x', key: '-k', signature: '-s', ...cli.secretSources };
  const connectionString = value(cli.connectionString);
  if (connectionString !== undefined) c.connectionString = { value: at(sources.connectionString, () => checkConnectionString(connectionString)), where: sources.connectionString };
  const endpoint = value(cli.endpoint);
  if (endpoint !== undefined) c.endpoint = { value: at(`-e "${endpoint}"`, () => checkEndpoint(endpoint)), where: '-e' };
  const keyName = value(cli.keyName);
  if (keyName !== undefined) c.keyName = { value: at('-K', () => checkKeyName(keyName)), where: '-K' };
  const key = value(cli.key);
  if (key !== undefined) c.key = { value: at(sources.key, () => checkKey(key)), where: sources.key };
  const signature = value(cli.signature);
  if (signature !== undefined) c.signature = { value: at(sources.signature, () => checkSignature(signature)), where: sources.signature };

  for (const text of cli.localForward ?? []) layer.localForward.push(parseLocalForwardOption(text, isLocal));
  for (const text of cli.legacyRemoteForward ?? []) layer.remoteForward.push(parseLegacyRemoteForwardOption(text));
  for (const text of cli.remoteForward ?? []) layer.remoteForward.push(parseRemoteForwardOption(text));
  for (const text of cli.httpForward ?? []) layer.remoteForward.push(parseHttpForwardOption(text));
  return layer;
}

function integerFlag(raw: number | string | undefined, label: keyof typeof RANGES): number {
  const n = typeof raw === 'number' ? raw : parseIntegerText(unquote(String(raw)));
  if (n === undefined) throw new ValueError(`${label} must be a whole number`);
  return checkRange(n, label);
}

function nonEmpty(text: string, what: string): string {
  if (!text) throw new ValueError(`the ${what} is empty`);
  return text;
}
