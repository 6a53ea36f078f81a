import type { Command } from 'commander';
import { bridgeTargetsHandler } from '../bridge/remote/bridge-targets.js';
import { ArcPortsError, createArcListenerEnd, parseArcPorts, type ArcListenerEnd, type ArcPortList } from '../arc/serve-arc.js';
import { ConnectionLifecycle } from '../forwarding/lifecycle/connection-lifecycle.js';
import { SettingsError } from '../forwarding/settings-error.js';
import { newTunnelId } from '../protocol/aztunnel-envelope.js';
import { ConnectionSlots } from '../tunnel/connection-slots.js';
import {
  buildListenerHandlers,
  mergeListenerSettings,
  readListenerFile,
  type HandlerContext,
  type ListenerHandlers,
  type ListenerSettings,
} from '../tunnel/listener-handlers.js';
import { TunnelListener } from '../tunnel/tunnel-listener.js';
import { reopenLogFiles } from '../util/logger.js';
import { collect, loggerFrom, onReloadSignal, onShutdownSignal, parsePositiveInt } from './common-options.js';
import { fail } from './errors.js';
import { EXIT_CODES, withExamples } from './help-text.js';
import { addKeepAliveOption, keepAliveFrom, type KeepAliveFlags } from './keep-alive-options.js';
import { addMetricsOptions, metricsFrom, serveMetrics } from './metrics-options.js';
import { addRelayOptions, durationFlag, relayConnectionFrom, type RelayFlags } from './relay-options.js';

interface ListenerFlags extends RelayFlags, KeepAliveFlags {
  allow: string[];
  allowResolve?: boolean;
  maxConnections: string;
  connectTimeout: string;
  tcpKeepalive: string;
  drainTimeout: string;
  bridgeTarget: string[];
  balance?: string;
  healthCheck?: string;
  arcCompatible?: boolean;
  arcPorts?: string;
  metricsAddr?: string;
  metricsMaxTargets?: string;
  config?: string;
}

/** A sender's first message may wait this long (prewarmed senders keep connections idle up to 25 s). */
const MIN_FIRST_MESSAGE_TIMEOUT_MS = 30_000;

export function registerRelayListenerCommand(program: Command): void {
  const command = program
    .command('relay-listener [hyco]')
    .description('listen on a hybrid connection and connect each tunnel to the host:port its sender names (aztunnel-compatible)')
    .option('--allow <entry>', 'allowed target (repeatable): *, host:port, host:*, *:port, CIDR:port, CIDR:*, [IPv6]:port, ports as 8000-8100', collect, [])
    .option('--allow-resolve', 'also match host names by the addresses they resolve to (target names against IP/CIDR entries, name entries against IP targets)')
    .option('--max-connections <n>', 'relayed connections carried at once, counted from accept (tunnels, --bridge-target connections and connections that have not sent their first message yet); more are refused at once with "listener at capacity" (0 = unlimited)', '0')
    .option('--connect-timeout <duration>', 'time to connect to a target (and to wait for the envelope)', '30s')
    .option('--tcp-keepalive <duration>', 'TCP keep-alive interval on target connections (0 = off)', '30s')
    .option('--drain-timeout <duration>', 'on SIGTERM/SIGINT, how long open tunnels may run before they are closed', '30s')
    .option('--bridge-target <[port_name/]target>', 'also serve azbridge-style senders (bridge -L) on this hybrid connection, as "bridge -T <hyco>:<value>" would (repeatable)', collect, [])
    .option('--balance <mode>', '--bridge-target ports with several targets: round-robin (default) or least-connections')
    .option('--health-check <spec>', '--bridge-target pools: off, on, or interval=10s,timeout=3s,fail=3,pass=2 (default: on for ports with 2+ TCP/Unix targets)')
    .option('--arc-compatible', 'also act as an Azure Arc agent: senders that name Microsoft-Guestgateway-Target localhost:PORT (hybridge arc, aztunnel arc) reach that local port, no envelope')
    .option('--arc-ports <ports>', 'with --arc-compatible: the local ports Arc senders may reach, e.g. 22,6516 or 8000-8100 (default 22)')
    .option('--config <file>', 'YAML or JSON file with allow, allowResolve, bridgeTargets, balance, healthCheck (lists add to the flags); SIGHUP reads it again without cutting live tunnels');
  addKeepAliveOption(command, true);
  addMetricsOptions(command, true);
  withExamples(
    addRelayOptions(command),
    [
      'hybridge relay-listener --relay my-ns --hyco tunnel --allow 10.0.0.0/8:22     # AZTUNNEL_KEY_NAME/AZTUNNEL_KEY or Entra ID',
      'hybridge relay-listener tunnel --connection-string-file /etc/hybridge/listen.cs --allow db.corp:5432',
      'hybridge relay-listener tunnel -x "$CS" --allow "*:443" --bridge-target ssh/127.0.0.1:22',
      'hybridge relay-listener tunnel -x "$CS" --config /etc/hybridge/listener.yml --metrics-addr 127.0.0.1:9464   # kill -HUP reloads the file',
    ],
    `${EXIT_CODES.service} A hybrid connection that does not exist or is deleted,
and credentials the relay refuses 3 times in a row, end it with 1. See docs/tunnel.md.`,
  ).action(async (hyco: string | undefined, flags: ListenerFlags) => runRelayListener(hyco, flags));
}

async function runRelayListener(hyco: string | undefined, flags: ListenerFlags): Promise<void> {
  const log = loggerFrom(flags);
  const { options: connection, auth } = relayConnectionFrom(flags, hyco, log);
  const maxConnections = parsePositiveInt(flags.maxConnections, '--max-connections', 0, 1_000_000);
  const connectTimeoutMs = durationFlag(flags.connectTimeout, '--connect-timeout');
  const tcpKeepAliveMs = durationFlag(flags.tcpKeepalive, '--tcp-keepalive', true);
  const drainMs = durationFlag(flags.drainTimeout, '--drain-timeout', true);
  const { keepAliveIntervalMs, stallTimeoutMs } = keepAliveFrom(flags);
  const hycoName = connection.entityPath ?? '';
  const listenerId = newTunnelId();
  const slots = new ConnectionSlots(maxConnections);
  const context: HandlerContext = { hyco: hycoName, connectTimeoutMs, tcpKeepAliveMs, slots, listenerId, log, bridgeTargets: bridgeTargetsHandler };
  const settings = () => mergeListenerSettings(flagSettings(flags), flags.config ? readListenerFile(flags.config) : {});
  // Every flag is checked before the first log line, so that a bad one ends in a single line.
  let handlers: ListenerHandlers;
  try {
    handlers = buildListenerHandlers(settings(), context);
  } catch (err) {
    if (err instanceof SettingsError) fail(err.problems.join('\nhybridge: '));
    throw err;
  }
  const arcPorts = arcPortsFrom(flags);
  const metricsSettings = metricsFrom(flags, true);
  if (handlers.allowlist.isEmpty) log.warn('no allowlist configured, all targets will be permitted');

  const arc: ArcListenerEnd | undefined = arcPorts && createArcListenerEnd({ ports: arcPorts, connectTimeoutMs, tcpKeepAliveMs, slots, log });
  const lifecycle = new ConnectionLifecycle(log);
  const metrics = await serveMetrics(metricsSettings, lifecycle, log);
  const observePools = (azbridge: ListenerHandlers['azbridge']) =>
    metrics?.observePools({ prewarm: [], targets: [...(azbridge.pools?.() ?? [])].map(({ port, members }) => ({ forwarder: `${hycoName}:${port}`, members: () => members })) });
  observePools(handlers.azbridge);
  const listener = new TunnelListener({
    connection,
    listenerId,
    aztunnel: handlers.aztunnel,
    azbridge: handlers.azbridge,
    arc,
    slots,
    firstMessageTimeoutMs: Math.max(connectTimeoutMs, MIN_FIRST_MESSAGE_TIMEOUT_MS),
    keepAliveIntervalMs,
    stallTimeoutMs,
    log,
    lifecycle,
    onControlChannel: (online) => metrics?.controlChannel(hycoName, online),
    onFatal: (error) => {
      process.stderr.write(`hybridge: relay-listener: ${error.message}\n`);
      process.exit(1);
    },
  });
  log.info({ auth, allow: handlers.allowlist.entries.map((e) => e.text), arcPorts: arcPorts?.text, maxConnections: maxConnections || 'unlimited', connectTimeoutMs }, 'starting relay-listener');
  handlers.azbridge.start?.();
  listener.start();
  onShutdownSignal(log, async () => {
    handlers.azbridge.close?.();
    await listener.drain(drainMs);
  });
  onReloadSignal(log, () => {
    reopenLogFiles();
    if (!flags.config) return void log.info('SIGHUP: nothing to reload (no --config file); log files reopened');
    let next: ListenerHandlers;
    try {
      next = buildListenerHandlers(settings(), context);
    } catch (err) {
      if (!(err instanceof SettingsError)) throw err;
      return void log.error({ reason: err.message }, 'SIGHUP: new configuration refused; the running one carries on');
    }
    const previous = handlers;
    handlers = next;
    next.azbridge.start?.();
    listener.useHandlers(next);
    previous.azbridge.close?.();
    observePools(next.azbridge);
    log.info({ allow: next.allowlist.entries.map((e) => e.text), connections: lifecycle.size }, 'SIGHUP: configuration reloaded; live connections carry on');
  });
}

/** The reloadable settings as the flags give them. */
function flagSettings(flags: ListenerFlags): ListenerSettings {
  return { allow: flags.allow, allowResolve: flags.allowResolve === true, bridgeTargets: flags.bridgeTarget, balance: flags.balance, healthCheck: flags.healthCheck };
}

/** --arc-compatible and --arc-ports: the local ports Arc-style senders may reach, or undefined when off. */
function arcPortsFrom(flags: ListenerFlags): ArcPortList | undefined {
  if (!flags.arcCompatible) {
    if (flags.arcPorts !== undefined) fail('--arc-ports needs --arc-compatible');
    return undefined;
  }
  try {
    return parseArcPorts(flags.arcPorts ?? '22');
  } catch (err) {
    if (err instanceof ArcPortsError) fail(err.message);
    throw err;
  }
}
