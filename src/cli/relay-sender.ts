import type { Command } from 'commander';
import { HybridConnectionClient } from '../client/hybrid-connection-client.js';
import { parseTarget, TargetError } from '../protocol/aztunnel-envelope.js';
import { isLoopbackBind } from '../tunnel/bind-address.js';
import { portForwardHandler } from '../tunnel/port-forward.js';
import { credentialChecker, Socks5Error, type CredentialCheck } from '../tunnel/socks5-protocol.js';
import { socks5ProxyHandler } from '../tunnel/socks5-proxy.js';
import { connectStdio } from '../tunnel/stdio-connect.js';
import type { SenderEnd } from '../forwarding/sender-end.js';
import { TunnelError, tunnelSenderEnd } from '../tunnel/open-tunnel.js';
import type { Logger } from '../util/logger.js';
import type { LocalConnectionHandler, LocalTunnelServer } from '../tunnel/local-tunnel-server.js';
import { addBindOptions, bindFrom, serveLocally, type BindFlags } from './bind-options.js';
import { loggerFrom, parsePositiveInt } from './common-options.js';
import { ExitCode, fail } from './errors.js';
import { EXIT_CODES, withExamples } from './help-text.js';
import { addKeepAliveOption, keepAliveFrom, type KeepAliveFlags } from './keep-alive-options.js';
import { addRelayOptions, relayConnectionFrom, type RelayFlags } from './relay-options.js';
import { ConnectionLifecycle } from '../forwarding/lifecycle/connection-lifecycle.js';
import { addMetricsOptions, metricsFrom, serveMetrics } from './metrics-options.js';

interface SenderFlags extends RelayFlags, KeepAliveFlags {}

interface SenderBindFlags extends BindFlags, SenderFlags {
  prewarm: string;
  mux: string;
  metricsAddr?: string;
  metricsMaxTargets?: string;
}

interface SocksFlags extends SenderBindFlags {
  socksUser?: string;
  socksPassword?: string;
}

const SENDER_EXIT_CODES = `${EXIT_CODES.service} A tunnel that cannot be opened closes\nthat one client connection and is logged; the process goes on.`;
const SOCKS_USER_ENV = 'HYBRIDGE_SOCKS_USER';
const SOCKS_PASSWORD_ENV = 'HYBRIDGE_SOCKS_PASSWORD';

export function registerRelaySenderCommands(program: Command): void {
  const sender = program.command('relay-sender').description('open tunnels through a relay-listener (or an aztunnel listener): port-forward, socks5-proxy, connect');
  withExamples(sender, ['hybridge relay-sender port-forward --hyco tunnel 10.0.0.5:5432 -b 127.0.0.1:15432', 'hybridge relay-sender socks5-proxy tunnel -b 127.0.0.1:1080', 'ssh -o ProxyCommand="hybridge relay-sender connect --hyco tunnel %h:%p" user@10.0.0.5'], EXIT_CODES.service);

  const portForward = sender
    .command('port-forward <target>')
    .description('forward every connection to a local port to <host:port> on the listener\'s side');
  addSenderBindOptions(portForward, '127.0.0.1:0');
  withExamples(portForward, ['hybridge relay-sender port-forward --relay my-ns --hyco tunnel 10.0.0.5:5432 -b 127.0.0.1:15432', 'hybridge relay-sender port-forward -x "$CS" db.corp:5432 -b 127.0.0.1:15432 --prewarm 4'], SENDER_EXIT_CODES);
  addRelayOptions(portForward).action(async (target: string, flags: SenderBindFlags) => runPortForward(target, flags));

  const socks = sender
    .command('socks5-proxy [hyco]')
    .description('run a local SOCKS5 proxy whose CONNECTs go through the relay (names resolve at the listener, like socks5h)')
    .option('--socks-user <name>', `require RFC 1929 username/password authentication with this user [env ${SOCKS_USER_ENV}]`)
    .option('--socks-password <password>', `password for --socks-user (prefer env ${SOCKS_PASSWORD_ENV}: arguments are visible to other local users)`);
  addSenderBindOptions(socks, '127.0.0.1:1080');
  withExamples(socks, ['hybridge relay-sender socks5-proxy --relay my-ns --hyco tunnel', 'HYBRIDGE_SOCKS_PASSWORD=... hybridge relay-sender socks5-proxy tunnel -b 0.0.0.0:1080 --socks-user me', 'curl --socks5-hostname 127.0.0.1:1080 http://intranet.corp/'], SENDER_EXIT_CODES);
  addRelayOptions(socks).action(async (hyco: string | undefined, flags: SocksFlags) => runSocks5Proxy(hyco, flags));

  const connect = sender
    .command('connect <target>')
    .description('carry stdin/stdout to <host:port> on the listener\'s side (ssh -o ProxyCommand="hybridge relay-sender connect %h:%p")');
  withExamples(
    connect,
    ['ssh -o ProxyCommand="hybridge relay-sender connect --hyco tunnel %h:%p" user@10.0.0.5', 'printf \'GET / HTTP/1.0\\r\\n\\r\\n\' | hybridge relay-sender connect --hyco tunnel web.corp:80'],
    'Exit codes: 0 the tunnel ended cleanly, 1 no tunnel (relay, listener or target refused; one line says why) or it broke,\n2 invalid command line.',
  );
  addRelayOptions(addKeepAliveOption(connect)).action(async (target: string, flags: SenderFlags, command: Command) => runConnect(target, flags, command));
}

function addSenderBindOptions(command: Command, defaultBind: string): void {
  addKeepAliveOption(
    addBindOptions(command, defaultBind)
      .option('--prewarm <n>', 'relayed connections to keep open ahead of demand, for faster connects (0 = off)', '0')
      .option('--mux <n>', 'multiplexed sessions to keep open to a hybridge relay-listener; every tunnel becomes a stream in one, with no relay round trip (0-64, 0 = off; aztunnel listeners fall back to a connection each)', '0'),
  );
  addMetricsOptions(command, true);
}

/** The local listener of port-forward and socks5-proxy, with its metrics when --metrics-addr asks for them. */
async function serveTunnels(flags: SenderBindFlags, log: Logger, sender: SenderEnd, handle: LocalConnectionHandler): Promise<LocalTunnelServer> {
  const settings = metricsFrom(flags, true);
  const lifecycle = new ConnectionLifecycle(log);
  const metrics = await serveMetrics(settings, lifecycle, log);
  if (sender.prewarmReady !== undefined) metrics?.prewarmPool(sender.hyco, () => sender.prewarmReady ?? 0);
  return serveLocally(flags, log, handle, () => sender.close(), { hyco: sender.hyco, lifecycle });
}

function checkedTarget(target: string, command: string): string {
  try {
    parseTarget(target);
  } catch (err) {
    if (err instanceof TargetError) fail(`${command}: invalid target: ${err.message}`);
    throw err;
  }
  return target;
}

function senderFrom(flags: SenderFlags, hyco: string | undefined, log: Logger, prewarm = 0, mux = 0): SenderEnd {
  const { keepAliveIntervalMs } = keepAliveFrom(flags);
  const { options } = relayConnectionFrom(flags, hyco, log);
  return tunnelSenderEnd(new HybridConnectionClient(options), { log, prewarm, mux, keepAliveIntervalMs });
}

async function runPortForward(target: string, flags: SenderBindFlags): Promise<void> {
  const log = loggerFrom(flags);
  checkedTarget(target, 'port-forward');
  const prewarm = parsePositiveInt(flags.prewarm, '--prewarm', 0, 100);
  const mux = parsePositiveInt(flags.mux, '--mux', 0, 64);
  const sender = senderFrom(flags, undefined, log, prewarm, mux);
  const server = await serveTunnels(flags, log, sender, portForwardHandler(sender, target));
  process.stdout.write(`hybridge relay-sender: listening on ${server.address}, forwarding to ${target}\n`);
  log.info({ bind: server.address, target, prewarm, mux }, 'port-forward listening');
}

async function runSocks5Proxy(hyco: string | undefined, flags: SocksFlags): Promise<void> {
  const log = loggerFrom(flags);
  const prewarm = parsePositiveInt(flags.prewarm, '--prewarm', 0, 100);
  const mux = parsePositiveInt(flags.mux, '--mux', 0, 64);
  const bind = bindFrom(flags);
  const checkCredentials = socksCredentials(flags, log);
  if (!checkCredentials && !isLoopbackBind(bind)) {
    log.warn({ bind: flags.gateway ? `0.0.0.0:${bind.port}` : flags.bind }, 'the SOCKS5 proxy listens beyond loopback without authentication: anyone who reaches it can use the tunnel; set --socks-user and HYBRIDGE_SOCKS_PASSWORD');
  }
  const sender = senderFrom(flags, hyco, log, prewarm, mux);
  const server = await serveTunnels(flags, log, sender, socks5ProxyHandler({ sender, checkCredentials }));
  process.stdout.write(`hybridge relay-sender: SOCKS5 proxy listening on ${server.address}\n`);
  log.info({ bind: server.address, auth: checkCredentials ? 'username/password' : 'none', prewarm }, 'socks5-proxy listening');
}

async function runConnect(target: string, flags: SenderFlags, command: Command): Promise<void> {
  // stderr reaches the terminal of the ssh session: only warnings and errors by default.
  const log = loggerFrom({ ...flags, logLevel: command.getOptionValueSource('logLevel') === 'default' ? 'warn' : flags.logLevel });
  checkedTarget(target, 'connect');
  const sender = senderFrom(flags, undefined, log);
  let result;
  try {
    result = await connectStdio(sender, target, { input: process.stdin, output: process.stdout }, log);
  } catch (err) {
    if (err instanceof TunnelError) fail(`relay-sender connect: ${err.message}`, ExitCode.Failure);
    throw err;
  }
  if (result.outcome !== 'closed') {
    fail(`relay-sender connect: the tunnel to ${target} broke (${result.error?.message ?? result.outcome})`, ExitCode.Failure);
  }
  process.exit(ExitCode.Ok);
}

function socksCredentials(flags: SocksFlags, log: Logger): CredentialCheck | undefined {
  const user = flags.socksUser ?? process.env[SOCKS_USER_ENV];
  const password = flags.socksPassword ?? process.env[SOCKS_PASSWORD_ENV];
  if (user === undefined && password === undefined) return undefined;
  if (!user || !password) fail(`SOCKS5 authentication needs both a user and a password (--socks-user / ${SOCKS_USER_ENV} and --socks-password / ${SOCKS_PASSWORD_ENV})`);
  if (flags.socksPassword !== undefined) log.warn(`--socks-password is visible to other local users in the process list; prefer ${SOCKS_PASSWORD_ENV}`);
  try {
    return credentialChecker(user, password);
  } catch (err) {
    if (err instanceof Socks5Error) fail(err.message);
    throw err;
  }
}
