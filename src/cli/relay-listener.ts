import type { Command } from 'commander';
import { ArcPortsError, createArcListenerEnd, parseArcPorts, type ArcListenerEnd, type ArcPortList } from '../arc/serve-arc.js';
import { BridgeConfigError, checkBalanceMode, parseHealthCheckSpec, parseRemoteForwardOption, type PoolSettings, type RemoteBinding } from '../bridge/config/index.js';
import { createAzbridgeHandler, rejectAzbridgeConnection, type AzbridgeHandler } from '../bridge/remote/serve-azbridge.js';
import type { ProtocolHandler } from '../forwarding/listener-end.js';
import { newTunnelId } from '../protocol/aztunnel-envelope.js';
import { Allowlist, AllowlistError } from '../tunnel/allowlist.js';
import { ConnectionSlots } from '../tunnel/connection-slots.js';
import { createAztunnelHandler } from '../tunnel/serve-aztunnel.js';
import { systemLookup } from '../tunnel/target-access.js';
import { TunnelListener } from '../tunnel/tunnel-listener.js';
import { ConnectionLifecycle } from '../forwarding/lifecycle/connection-lifecycle.js';
import type { Logger } from '../util/logger.js';
import { addMetricsOptions, metricsFrom, serveMetrics } from './metrics-options.js';
import { collect, loggerFrom, onShutdownSignal, parsePositiveInt } from './common-options.js';
import { fail } from './errors.js';
import { addRelayOptions, durationFlag, relayConnectionFrom, type RelayFlags } from './relay-options.js';

interface ListenerFlags extends RelayFlags {
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
    .option('--arc-ports <ports>', 'with --arc-compatible: the local ports Arc senders may reach, e.g. 22,6516 or 8000-8100 (default 22)');
  addMetricsOptions(command, true);
  addRelayOptions(command).action(async (hyco: string | undefined, flags: ListenerFlags) => runRelayListener(hyco, flags));
}

async function runRelayListener(hyco: string | undefined, flags: ListenerFlags): Promise<void> {
  const log = loggerFrom(flags);
  const { options: connection, auth } = relayConnectionFrom(flags, hyco, log);
  const maxConnections = parsePositiveInt(flags.maxConnections, '--max-connections', 0, 1_000_000);
  const connectTimeoutMs = durationFlag(flags.connectTimeout, '--connect-timeout');
  const tcpKeepAliveMs = durationFlag(flags.tcpKeepalive, '--tcp-keepalive', true);
  const drainMs = durationFlag(flags.drainTimeout, '--drain-timeout', true);
  const resolveNames = flags.allowResolve === true;
  let allowlist: Allowlist;
  try {
    allowlist = Allowlist.parse(flags.allow, resolveNames ? { resolveEntries: { resolve: systemLookup } } : {});
  } catch (err) {
    if (err instanceof AllowlistError) fail(err.problems.join('\nhybridge: '));
    throw err;
  }
  // Every flag is checked before the first log line, so that a bad one ends in a single line.
  const azbridge = azbridgeHandler(flags.bridgeTarget, connection.entityPath ?? '', { connectTimeoutMs, pools: poolSettingsFrom(flags) }, log);
  const arcPorts = arcPortsFrom(flags);
  const metricsSettings = metricsFrom(flags, true);
  if (allowlist.isEmpty) log.warn('no allowlist configured, all targets will be permitted');

  const listenerId = newTunnelId();
  const slots = new ConnectionSlots(maxConnections);
  const arc: ArcListenerEnd | undefined = arcPorts && createArcListenerEnd({ ports: arcPorts, connectTimeoutMs, tcpKeepAliveMs, slots, log });
  const aztunnel = createAztunnelHandler({ allowlist, connectTimeoutMs, tcpKeepAliveMs, slots, listenerId, resolveNames });
  const lifecycle = new ConnectionLifecycle(log);
  const metrics = await serveMetrics(metricsSettings, lifecycle, log);
  const hycoName = connection.entityPath ?? '';
  metrics?.observePools({ prewarm: [], targets: [...(azbridge.pools?.() ?? [])].map(({ port, members }) => ({ forwarder: `${hycoName}:${port}`, members: () => members })) });
  const listener = new TunnelListener({
    connection,
    listenerId,
    aztunnel,
    azbridge,
    arc,
    slots,
    firstMessageTimeoutMs: Math.max(connectTimeoutMs, MIN_FIRST_MESSAGE_TIMEOUT_MS),
    log,
    lifecycle,
    onControlChannel: (online) => metrics?.controlChannel(hycoName, online),
    onFatal: (error) => {
      process.stderr.write(`hybridge: relay-listener: ${error.message}\n`);
      process.exit(1);
    },
  });
  log.info({ auth, allow: allowlist.entries.map((e) => e.text), arcPorts: arcPorts?.text, maxConnections: maxConnections || 'unlimited', connectTimeoutMs }, 'starting relay-listener');
  azbridge.start?.();
  listener.start();
  onShutdownSignal(log, async () => {
    azbridge.close?.();
    await listener.drain(drainMs);
  });
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

/** --balance and --health-check: the target-pool defaults of the --bridge-target ports. */
function poolSettingsFrom(flags: ListenerFlags): PoolSettings {
  const settings: PoolSettings = {};
  try {
    if (flags.balance !== undefined) settings.balance = checkBalanceMode(flags.balance);
  } catch (err) {
    fail(`--balance: ${(err as Error).message}`);
  }
  try {
    if (flags.healthCheck !== undefined) settings.healthCheck = parseHealthCheckSpec(flags.healthCheck);
  } catch (err) {
    fail(`--health-check "${flags.healthCheck}": ${(err as Error).message}`);
  }
  return settings;
}

/** azbridge-style senders: served by --bridge-target bindings (ports with several targets are pools), or refused with the reason. */
function azbridgeHandler(
  expressions: string[],
  hyco: string,
  options: { connectTimeoutMs: number; pools: PoolSettings },
  log: Logger,
): ProtocolHandler & { start?(): void; close?(): void; pools?: AzbridgeHandler['pools'] } {
  if (expressions.length === 0) {
    const reason = `relay-listener on "${hyco}" serves aztunnel-style tunnels only; start it with --bridge-target to serve azbridge ports`;
    return async (stream, first, connection) => {
      connection.end({ end: 'refused', reason: 'azbridge-style sender refused: no --bridge-target configured' });
      await rejectAzbridgeConnection(stream, first, reason);
    };
  }
  const bindings: RemoteBinding[] = [];
  for (const expression of expressions) {
    try {
      bindings.push(...parseRemoteForwardOption(`${hyco}:${expression}`).bindings);
    } catch (err) {
      if (err instanceof BridgeConfigError) fail(`--bridge-target ${expression}: ${err.message}`);
      throw err;
    }
  }
  return createAzbridgeHandler(bindings, { relayName: hyco, log, connectTimeoutMs: options.connectTimeoutMs, poolDefaults: options.pools });
}
