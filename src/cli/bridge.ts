import { rootCertificates } from 'node:tls';
import { Option, type Command } from 'commander';
import type { LevelWithSilent } from 'pino';
import { BridgeHost, ForwarderStartError } from '../bridge/bridge-host.js';
import { BridgeConfigError, checkLogLevel, loadBridgeConfig, validateRunnable, type BridgeConfig, type LogLevel } from '../bridge/config/index.js';
import { claimHostNames, parseHostPins, type ClaimedHostNames } from '../bridge/hosts/bridge-host-names.js';
import { DEFAULT_HOSTS_FILE, HostsError } from '../bridge/hosts/hosts-store.js';
import { ConnectionLifecycle } from '../forwarding/lifecycle/connection-lifecycle.js';
import { Allowlist, AllowlistError } from '../tunnel/allowlist.js';
import { aztunnelOnBridge } from '../tunnel/aztunnel-on-bridge.js';
import { createLogger, type LogFormat, type Logger } from '../util/logger.js';
import { collect, onReloadSignal, onShutdownSignal, parseDurationOption, PRECONNECT_HELP, preconnectFlag, readPemFile } from './common-options.js';
import { reloadBridge } from './bridge-reload.js';
import { CliError, ExitCode, fail } from './errors.js';
import { addMetricsOptions, metricsFrom, serveMetrics } from './metrics-options.js';
import { readSecret, VISIBLE_IN_PS } from './secret-input.js';
import { addProxyOptions, logProxyPolicy, proxyFrom, type ProxyFlags } from './proxy-options.js';

interface BridgeFlags extends ProxyFlags {
  configFile?: string;
  endpointUri?: string;
  connectionString?: string;
  connectionStringFile?: string;
  sharedAccessKeyName?: string;
  sharedAccessKey?: string;
  sharedAccessKeyFile?: string;
  signature?: string;
  signatureFile?: string;
  logLevel?: string;
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
  httpAffinity?: boolean;
  prewarm?: string;
  mux?: string;
  preconnect?: string;
  maxUdpFlows?: string;
  balance?: string;
  healthCheck?: string;
  logFormat: string;
  drainTimeout: string;
  allow?: string[];
  ca?: string[];
  addHosts?: string | true;
  hostsFile?: string;
  tokenInQuery?: boolean;
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
  hybridge bridge --connection-string-file /etc/hybridge/send.cs -L 127.0.0.1:15432:db

Credentials: -x, $AZURE_BRIDGE_CONNECTIONSTRING or $HYBRIDGE_CONNECTION_STRING (a key or signature
can travel inside it), -K with -k, or -s; the *-file flags read a value from a file instead, which,
unlike a command line, other local users cannot see in \`ps\`.

Exit codes: 0 stopped by SIGINT/SIGTERM, 1 a forwarder could not start or a relay listener stopped
for good (ExitOnForwardFailure), 2 invalid command line or configuration. See docs/bridge.md.`;

export function registerBridgeCommand(program: Command): void {
  const command = program
    .command('bridge')
    .description('forward TCP, UDP, Unix-socket and HTTP endpoints over a hybrid connection (azbridge-compatible)')
    .option('-f, --config-file <path>', 'configuration file (YAML or JSON); replaces the user file, the machine file still applies')
    .option('-e, --endpoint-uri <uri>', 'relay endpoint, e.g. sb://ns.servicebus.windows.net/ (or ws://host:port for a local hybridge relay)')
    .option('-x, --connection-string <cs>', `relay connection string (default: $AZURE_BRIDGE_CONNECTIONSTRING, else $HYBRIDGE_CONNECTION_STRING); -e -K -k -s override its parts; ${VISIBLE_IN_PS}`)
    .option('--connection-string-file <file>', 'read -x from this file (its first line)')
    .option('-K, --shared-access-key-name <name>', 'shared access rule name')
    .option('-k, --shared-access-key <key>', `shared access key (base64; ${VISIBLE_IN_PS}: prefer --shared-access-key-file)`)
    .option('--shared-access-key-file <file>', 'read -k from this file (its first line)')
    .option('-s, --signature <token>', `pre-issued shared access signature, instead of -K/-k (${VISIBLE_IN_PS}: prefer --signature-file)`)
    .option('--signature-file <file>', 'read -s from this file (its first line)')
    .option('-l, --log-file <path>', 'append logs to this file instead of stderr')
    .option('-q, --quiet', 'no log output (as --log-level silent)')
    .option('-v, --verbose', 'verbose logs: per-connection detail (as --log-level debug)')
    .option('--log-level <level>', 'trace, debug, info, warn, error or silent (or an azbridge LogLevel: NONE, FATAL, ERROR, INFO, VERBOSE, DEBUG); default: LogLevel of the configuration, INFO')
    .option('-o, --option <key:value>', 'configuration key override, e.g. ConnectTimeout:10 (repeatable)', collect)
    .option('-g, --gateway-ports', 'let other hosts connect to -L listeners that have no bind address (default: loopback only)')
    .option('-b, --bind-address <address>', 'source address for the outbound connections of -T/-R/-H forwarders')
    .option('-a, --keep-alive-interval <seconds>', 'keep-alive interval of relay listener control channels and the connections they accept (default 30)')
    .option('-L, --local-forward <expr>', '[bind_address:]port[/port_name]{;...}:relay_name, port N (TCP) or NU (UDP), or a socket path (repeatable)', collect)
    .option('-T, --remote-forward <expr>', 'relay_name:[port_name/][host:]port{;...} or relay_name:[port_name/]socket (repeatable)', collect)
    .addOption(new Option('-R, --legacy-remote-forward <expr>', 'relay_name:host:[port_name/]port (azbridge legacy form)').argParser(collect).hideHelp())
    .option('-H, --remote-http-forward <expr>', 'relay_name:{http|https}/host[/path][:port]{;...}: HTTP reverse proxy (repeatable)', collect)
    .option('--http-affinity', "the -H forwarders keep one target connection per client connection, for NTLM/Negotiate (needs a hybridge relay); config key ConnectionAffinity")
    .option('--prewarm <n>', 'relayed connections each -L forwarder keeps open ahead of demand (0-1000, default 0)')
    .option('--mux <n>', 'multiplexed sessions each -L forwarder keeps open to a hybridge -T side; every TCP/Unix connection and UDP flow becomes a stream in one, with no relay round trip (0-64, default 0 = off; azbridge peers fall back to a connection each); config key Multiplex')
    .option('--preconnect <n>', PRECONNECT_HELP)
    .option('--max-udp-flows <n>', 'UDP client endpoints (flows, one relayed connection each) a UDP -L forwarder carries at once; datagrams from new clients beyond it are dropped (1-100000, default 1000); config key MaxUdpFlows')
    .option('--balance <mode>', 'target pools (-T bindings sharing a port name): round-robin (default) or least-connections; config key LoadBalancing')
    .option('--health-check <spec>', 'target pools: off, on, or interval=10s,timeout=3s,fail=3,pass=2 (default: on for ports with 2+ TCP/Unix targets); config key HealthCheck')
    .option('--allow <host:port>', 'serve aztunnel-style senders on -T relays for this target (repeatable; default: refuse them)', collect)
    .option('--ca <file>', 'PEM certificate to trust for a TLS relay, besides the system list (repeatable)', collect)
    .option('--add-hosts [name=address,...]', 'while the bridge runs, map every host name a -L binding listens on to a free 127.1.x.y (or the address given) in the hosts file; removed on exit')
    .option('--hosts-file <path>', `the hosts file --add-hosts changes (default ${DEFAULT_HOSTS_FILE})`)
    .option('--token-in-query', 'send the token as the sb-hc-token query parameter instead of a header (relays that only read that, e.g. aztunnel\'s development relay)');
  addProxyOptions(command)
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
  const preconnect = preconnectFlag(flags.preconnect);
  const config = loadConfig(flags);
  const problems = validateRunnable(config);
  if (problems.length > 0) throw new CliError(problems.join('\nhybridge: '), ExitCode.Usage);
  checkAllowRules(flags.allow ?? []);
  const metricsSettings = metricsFrom(flags);
  const warnings: string[] = [];
  const proxy = proxyFrom(flags, (line) => warnings.push(line));
  const hostNames = claimHosts(flags, config);
  const tls = flags.ca?.length ? { ca: [...rootCertificates, ...flags.ca.map((file) => readPemFile(file, '--ca'))] } : undefined;

  const log = createLogger({ level: logLevelFrom(flags, config), format: format as LogFormat, file: config.logFileName });
  for (const warning of warnings) log.warn(warning);
  logProxyPolicy(proxy, log);
  if (hostNames) logHostNames(hostNames, flags.hostsFile ?? DEFAULT_HOSTS_FILE, log);
  const lifecycle = new ConnectionLifecycle(log);
  const metrics = await serveMetrics(metricsSettings, lifecycle, log);
  const host: BridgeHost = new BridgeHost(config, {
    log,
    tls,
    proxy,
    preconnect,
    serveAztunnel: flags.allow?.length ? aztunnelOnBridge(flags.allow) : undefined,
    tokenInQuery: flags.tokenInQuery === true,
    lifecycle,
    onControlChannel: (hyco, online) => metrics?.controlChannel(hyco, online),
    onFatal: (message) => {
      void host.stop(0).finally(() => {
        process.stderr.write(`hybridge: ${message}\n`);
        process.exit(ExitCode.Failure);
      });
    },
  });
  onShutdownSignal(log, async () => {
    await host.stop(drainMs);
  });
  try {
    await host.start();
  } catch (err) {
    if (err instanceof ForwarderStartError) fail(err.message, err.configProblem ? ExitCode.Usage : ExitCode.Failure);
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

/** Every configuration layer, read again (the files and the secret files too); throws BridgeConfigError. */
function readConfig(flags: BridgeFlags): BridgeConfig {
  const connectionString = readSecret({ flag: { value: flags.connectionString, name: '-x' }, file: { path: flags.connectionStringFile, name: '--connection-string-file' } });
  const key = readSecret({ flag: { value: flags.sharedAccessKey, name: '-k' }, file: { path: flags.sharedAccessKeyFile, name: '--shared-access-key-file' } });
  const signature = readSecret({ flag: { value: flags.signature, name: '-s' }, file: { path: flags.signatureFile, name: '--signature-file' } });
  return loadBridgeConfig({
    configFile: flags.configFile,
    endpoint: flags.endpointUri,
    connectionString: connectionString?.value,
    keyName: flags.sharedAccessKeyName,
    key: key?.value,
    signature: signature?.value,
    secretSources: { connectionString: connectionString?.where, key: key?.where, signature: signature?.where },
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
    httpAffinity: flags.httpAffinity,
    prewarm: flags.prewarm,
    mux: flags.mux,
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

const LOG_LEVEL_NAMES: readonly LevelWithSilent[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** --log-level (hybridge's names or azbridge's), else -q/-v and LogLevel from the configuration. */
function logLevelFrom(flags: BridgeFlags, config: BridgeConfig): LevelWithSilent {
  if (flags.logLevel === undefined) return pinoLevel(config.logLevel);
  if (flags.quiet || flags.verbose) fail(`give either --log-level or ${flags.quiet ? '-q' : '-v'}, not both`);
  const name = flags.logLevel.toLowerCase();
  if ((LOG_LEVEL_NAMES as readonly string[]).includes(name)) return name as LevelWithSilent;
  try {
    return pinoLevel(checkLogLevel(name));
  } catch {
    fail(`--log-level must be one of ${LOG_LEVEL_NAMES.join(', ')} (or an azbridge LogLevel), not "${flags.logLevel}"`);
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
