import { rootCertificates } from 'node:tls';
import { Option, type Command } from 'commander';
import type { LevelWithSilent } from 'pino';
import { BridgeHost, ForwarderStartError } from '../bridge/bridge-host.js';
import { BridgeConfigError, loadBridgeConfig, validateRunnable, type BridgeConfig, type LogLevel } from '../bridge/config/index.js';
import { claimHostNames, parseHostPins, type ClaimedHostNames } from '../bridge/hosts/bridge-host-names.js';
import { DEFAULT_HOSTS_FILE, HostsError } from '../bridge/hosts/hosts-store.js';
import { Allowlist, AllowlistError } from '../tunnel/allowlist.js';
import { ConnectionLifecycle } from '../forwarding/lifecycle/connection-lifecycle.js';
import { createLogger, type LogFormat, type Logger } from '../util/logger.js';
import { collect, onReloadSignal, onShutdownSignal, parseDurationOption, readPemFile } from './common-options.js';
import { reloadBridge } from './bridge-reload.js';
import { CliError, ExitCode, fail } from './errors.js';
import { addMetricsOptions, metricsFrom, serveMetrics } from './metrics-options.js';

interface BridgeFlags {
  configFile?: string;
  endpointUri?: string;
  connectionString?: string;
  sharedAccessKeyName?: string;
  sharedAccessKey?: string;
  signature?: string;
  logFile?: string;
  quiet?: boolean;
  verbose?: boolean;
  option?: string[];
  gatewayPorts?: boolean;
  bindAddress?: string;
  keepAliveInterval?: string;
  localForward?: string[];
  remoteForward?: string[];
  legacyRemoteForward?: string[];
  remoteHttpForward?: string[];
  prewarm?: string;
  maxUdpFlows?: string;
  balance?: string;
  healthCheck?: string;
  logFormat: string;
  drainTimeout: string;
  allow?: string[];
  ca?: string[];
  addHosts?: string | true;
  hostsFile?: string;
  metricsAddr?: string;
  metricsMaxTargets?: string;
}

const EXAMPLES = `
Examples:
  hybridge bridge -e sb://ns.servicebus.windows.net -L 16161:db            # client side
  hybridge bridge -e sb://ns.servicebus.windows.net -T db:16161            # server side
  hybridge bridge -x "$CS" -L "127.0.0.8:16161/sql1;127.0.0.9:16161/sql2:db"
  hybridge bridge -x "$CS" -T "db:sql1/sql1.corp.example.com:16161;sql2/sql2.corp.example.com:16161"
  hybridge bridge -x "$CS" -T "db:pg/10.0.0.1:5432;pg/10.0.0.2:5432" --balance least-connections --health-check interval=5s
  hybridge bridge -x "$CS" -H latavola:https/localhost:443
  hybridge bridge -f bridge.yml

Exit codes: 0 stopped by SIGINT/SIGTERM, 1 a forwarder could not start (ExitOnForwardFailure),
2 invalid command line or configuration. See docs/bridge.md.`;

export function registerBridgeCommand(program: Command): void {
  const command = program
    .command('bridge')
    .description('forward TCP, UDP, Unix-socket and HTTP endpoints over a hybrid connection (azbridge-compatible)')
    .option('-f, --config-file <path>', 'configuration file (YAML or JSON); replaces the user file, the machine file still applies')
    .option('-e, --endpoint-uri <uri>', 'relay endpoint, e.g. sb://ns.servicebus.windows.net/ (or ws://host:port for a local hybridge relay)')
    .option('-x, --connection-string <cs>', 'relay connection string (default: $AZURE_BRIDGE_CONNECTIONSTRING); -e -K -k -s override its parts')
    .option('-K, --shared-access-key-name <name>', 'shared access rule name')
    .option('-k, --shared-access-key <key>', 'shared access key (base64)')
    .option('-s, --signature <token>', 'pre-issued shared access signature, instead of -K/-k')
    .option('-l, --log-file <path>', 'append logs to this file instead of stderr')
    .option('-q, --quiet', 'no log output')
    .option('-v, --verbose', 'verbose logs: per-connection detail')
    .option('-o, --option <key:value>', 'configuration key override, e.g. ConnectTimeout:10 (repeatable)', collect)
    .option('-g, --gateway-ports', 'let other hosts connect to -L listeners that have no bind address (default: loopback only)')
    .option('-b, --bind-address <address>', 'source address for the outbound connections of -T/-R/-H forwarders')
    .option('-a, --keep-alive-interval <seconds>', 'keep-alive interval of relay listener control channels (default 30)')
    .option('-L, --local-forward <expr>', '[bind_address:]port[/port_name]{;...}:relay_name, port N (TCP) or NU (UDP), or a socket path (repeatable)', collect)
    .option('-T, --remote-forward <expr>', 'relay_name:[port_name/][host:]port{;...} or relay_name:[port_name/]socket (repeatable)', collect)
    .addOption(new Option('-R, --legacy-remote-forward <expr>', 'relay_name:host:[port_name/]port (azbridge legacy form)').argParser(collect).hideHelp())
    .option('-H, --remote-http-forward <expr>', 'relay_name:{http|https}/host[/path][:port]{;...}: HTTP reverse proxy (repeatable)', collect)
    .option('--prewarm <n>', 'relayed connections each -L forwarder keeps open ahead of demand (0-1000, default 0)')
    .option('--max-udp-flows <n>', 'UDP client endpoints (flows, one relayed connection each) a UDP -L forwarder carries at once; datagrams from new clients beyond it are dropped (1-100000, default 1000); config key MaxUdpFlows')
    .option('--balance <mode>', 'target pools (-T bindings sharing a port name): round-robin (default) or least-connections; config key LoadBalancing')
    .option('--health-check <spec>', 'target pools: off, on, or interval=10s,timeout=3s,fail=3,pass=2 (default: on for ports with 2+ TCP/Unix targets); config key HealthCheck')
    .option('--allow <host:port>', 'serve aztunnel-style senders on -T relays for this target (repeatable; default: refuse them)', collect)
    .option('--ca <file>', 'PEM certificate to trust for a TLS relay, besides the system list (repeatable)', collect)
    .option('--add-hosts [name=address,...]', 'while the bridge runs, map every host name a -L binding listens on to a free 127.1.x.y (or the address given) in the hosts file; removed on exit')
    .option('--hosts-file <path>', `the hosts file --add-hosts changes (default ${DEFAULT_HOSTS_FILE})`)
    .option('--log-format <format>', 'text or json', 'text')
    .option('--drain-timeout <duration>', 'on SIGINT/SIGTERM, how long live connections may take to finish', '10s');
  addMetricsOptions(command).addHelpText('after', EXAMPLES);
  command.action(async (flags: BridgeFlags, cmd: Command) => {
    if (cmd.args.length > 0) fail(`unexpected argument "${cmd.args[0]}"; forwarders go after -L, -T, -R or -H`);
    await runBridge(flags);
  });
}

async function runBridge(flags: BridgeFlags): Promise<void> {
  const drainMs = parseDurationOption(flags.drainTimeout, '--drain-timeout');
  const format = flags.logFormat.toLowerCase();
  if (format !== 'text' && format !== 'json') fail('--log-format must be text or json');
  const config = loadConfig(flags);
  const problems = validateRunnable(config);
  if (problems.length > 0) throw new CliError(problems.join('\nhybridge: '), ExitCode.Usage);
  checkAllowRules(flags.allow ?? []);
  const hostNames = claimHosts(flags, config);
  const tls = flags.ca?.length ? { ca: [...rootCertificates, ...flags.ca.map((file) => readPemFile(file, '--ca'))] } : undefined;
  const metricsSettings = metricsFrom(flags);

  const log = createLogger({ level: pinoLevel(config.logLevel), format: format as LogFormat, file: config.logFileName });
  if (hostNames) logHostNames(hostNames, flags.hostsFile ?? DEFAULT_HOSTS_FILE, log);
  const lifecycle = new ConnectionLifecycle(log);
  const metrics = await serveMetrics(metricsSettings, lifecycle, log);
  const host = new BridgeHost(config, { log, tls, allow: flags.allow ?? [], lifecycle, onControlChannel: (hyco, online) => metrics?.controlChannel(hyco, online) });
  onShutdownSignal(log, async () => {
    await host.stop(drainMs);
  });
  try {
    await host.start();
  } catch (err) {
    if (err instanceof ForwarderStartError) fail(err.message, ExitCode.Failure);
    throw err;
  }
  metrics?.observePools(host.pools());
  onReloadSignal(log, () => reloadBridge(host, () => readConfig(flags), log, metrics));
}

function loadConfig(flags: BridgeFlags): BridgeConfig {
  try {
    return readConfig(flags);
  } catch (err) {
    if (err instanceof BridgeConfigError) fail(err.message);
    throw err;
  }
}

/** Every configuration layer, read again (the files too); throws BridgeConfigError. */
function readConfig(flags: BridgeFlags): BridgeConfig {
  return loadBridgeConfig({
    configFile: flags.configFile,
    endpoint: flags.endpointUri,
    connectionString: flags.connectionString,
    keyName: flags.sharedAccessKeyName,
    key: flags.sharedAccessKey,
    signature: flags.signature,
    logFile: flags.logFile,
    quiet: flags.quiet,
    verbose: flags.verbose,
    options: flags.option,
    gatewayPorts: flags.gatewayPorts,
    bindAddress: flags.bindAddress,
    keepAlive: flags.keepAliveInterval,
    localForward: flags.localForward,
    remoteForward: flags.remoteForward,
    legacyRemoteForward: flags.legacyRemoteForward,
    httpForward: flags.remoteHttpForward,
    prewarm: flags.prewarm,
    maxUdpFlows: flags.maxUdpFlows,
    balance: flags.balance,
    healthCheck: flags.healthCheck,
  });
}

/**
 * --add-hosts: the hosts entries for the -L host names, removed when the process exits (after a
 * SIGINT/SIGTERM drain, a start failure or any other exit; a SIGKILL leaves them to the next start).
 */
function claimHosts(flags: BridgeFlags, config: BridgeConfig): ClaimedHostNames | undefined {
  if (flags.addHosts === undefined) {
    if (flags.hostsFile !== undefined) fail('--hosts-file needs --add-hosts');
    return undefined;
  }
  const file = flags.hostsFile ?? DEFAULT_HOSTS_FILE;
  let claimed: ClaimedHostNames;
  try {
    claimed = claimHostNames(config, file, parseHostPins(flags.addHosts === true ? '' : flags.addHosts));
  } catch (err) {
    if (err instanceof HostsError) fail(err.message, err.kind === 'usage' ? ExitCode.Usage : ExitCode.Failure);
    throw err;
  }
  process.on('exit', () => {
    try {
      claimed.release();
    } catch (err) {
      process.stderr.write(`hybridge: could not remove the --add-hosts entries: ${(err as Error).message}; remove them with hybridge hosts remove\n`);
    }
  });
  return claimed;
}

function logHostNames(claimed: ClaimedHostNames, file: string, log: Logger): void {
  if (claimed.cleaned > 0) log.info({ hostsFile: file, entries: claimed.cleaned }, 'removed hosts entries left by bridges that are gone');
  for (const { name, address, added } of claimed.names) {
    log.info({ hostsFile: file, host: name, address }, added ? 'hosts entry added for the bridge\'s lifetime' : 'hosts entry already there; listening on its address');
  }
}

function checkAllowRules(rules: readonly string[]): void {
  try {
    Allowlist.parse(rules);
  } catch (err) {
    if (err instanceof AllowlistError) fail(`--allow: ${err.message}`);
    throw err;
  }
}

/** azbridge's LogLevel values on pino's levels: VERBOSE shows per-connection detail (debug). */
export function pinoLevel(level: LogLevel): LevelWithSilent {
  switch (level) {
    case 'none':
    case 'quiet':
      return 'silent';
    case 'fatal':
      return 'fatal';
    case 'error':
      return 'error';
    case 'info':
      return 'info';
    case 'verbose':
      return 'debug';
    default:
      return 'trace';
  }
}
