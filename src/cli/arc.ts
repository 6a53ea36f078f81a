import { rootCertificates } from 'node:tls';
import type { Command } from 'commander';
import { ArcConnector } from '../arc/arc-connector.js';
import { arcPortForwardHandler } from '../arc/arc-port-forward.js';
import { ARC_SERVICES, ArcCredentialSource, type ArcTarget } from '../arc/arc-credentials.js';
import { ArcDialError } from '../arc/arc-dial.js';
import { ArmClient } from '../arc/arm-client.js';
import { ArcSetupError } from '../arc/arm-failures.js';
import { CLOUD_NAMES, cloudSettings, CloudSettingsError } from '../arc/clouds.js';
import { parseArcResourceId, ResourceIdError } from '../arc/resource-id.js';
import { EntraTokenProvider } from '../client/token-provider.js';
import { pumpStdio } from '../tunnel/stdio-connect.js';
import { addBindOptions, checkBindFlags, serveLocally, type BindFlags } from './bind-options.js';
import { ConnectionLifecycle } from '../forwarding/lifecycle/connection-lifecycle.js';
import type { MetricsFlags } from '../observability/metrics/metrics-settings.js';
import { addMetricsOptions, metricsFrom, serveMetrics } from './metrics-options.js';
import { addLogOptions, loggerFrom, parsePort, readPemFile } from './common-options.js';
import { EXIT_CODES, withExamples } from './help-text.js';
import { ExitCode, fail } from './errors.js';
import { addProxyOptions, proxyFrom, type ProxyFlags } from './proxy-options.js';
import { durationFlag } from './relay-options.js';

/** aztunnel's `ArcCmd` flags, plus the cloud, the wait bound and extra trust. */
interface ArcFlags extends ProxyFlags {
  resourceId?: string;
  port: string;
  service: string;
  cloud?: string;
  armEndpoint?: string;
  timeout: string;
  ca?: string;
  logLevel?: string;
  logFormat?: string;
}

const RESOURCE_ID_ENV = 'AZTUNNEL_ARC_RESOURCE_ID';
/** aztunnel's default for both services (Windows Admin Center listens on 6516: pass --port 6516). */
const DEFAULT_PORT = 22;
const ARC_CONNECT_EXAMPLE = 'ssh -o ProxyCommand="hybridge arc connect --resource-id /subscriptions/SUB/resourceGroups/RG/providers/Microsoft.HybridCompute/machines/VM" user@VM';
const ARC_FORWARD_EXAMPLE = 'hybridge arc port-forward --resource-id "$ID" -b 127.0.0.1:2222   # then: ssh -p 2222 user@127.0.0.1';

export function registerArcCommands(program: Command): void {
  const arc = program
    .command('arc')
    .description('reach an Azure Arc-enabled machine through the relay Azure provisions for it (aztunnel-compatible): connect, port-forward');
  withExamples(arc, [ARC_CONNECT_EXAMPLE, ARC_FORWARD_EXAMPLE], EXIT_CODES.oneShot);

  const connect = arc
    .command('connect')
    .description('carry stdin/stdout to a port of an Arc-enabled machine (ssh -o ProxyCommand="hybridge arc connect --resource-id ...")');
  withExamples(connect, [ARC_CONNECT_EXAMPLE, 'hybridge arc connect --resource-id "$ID" --cloud AzureUSGovernment --timeout 5m'], `${EXIT_CODES.oneShot} ARM and relay failures are 1; a malformed resource id is 2.`);
  addArcOptions(connect).action(async (flags: ArcFlags, command: Command) => runConnect(flags, command));

  const portForward = arc
    .command('port-forward')
    .description('forward every connection to a local port to a port of an Arc-enabled machine (fresh relay credentials per connection)');
  addMetricsOptions(addBindOptions(portForward, '127.0.0.1:0'), true);
  withExamples(portForward, [ARC_FORWARD_EXAMPLE, 'AZTUNNEL_ARC_RESOURCE_ID="$ID" hybridge arc port-forward --service WAC --port 6516 -b 127.0.0.1:6516'], EXIT_CODES.service);
  addArcOptions(portForward).action(async (flags: ArcFlags & BindFlags & MetricsFlags) => runPortForward(flags));
}

function addArcOptions(command: Command): Command {
  command
    .option('--resource-id <id>', `the machine: /subscriptions/{id}/resourceGroups/{group}/providers/Microsoft.HybridCompute/machines/{name} [env ${RESOURCE_ID_ENV}]`)
    .option('--port <port>', 'port on the machine (WAC listens on 6516)', String(DEFAULT_PORT))
    .option('--service <name>', `service configuration: ${ARC_SERVICES.join(' or ')}`, 'SSH')
    .option('--cloud <name>', `Azure cloud: ${CLOUD_NAMES.join(', ')} (default AzureCloud); sets the ARM endpoint and the Microsoft Entra ID authority`)
    .option('--arm-endpoint <url>', 'ARM endpoint instead of the cloud\'s, e.g. https://management.azure.com')
    .option('--timeout <duration>', 'how long to wait in all for the credentials and for the machine\'s Arc agent to accept (per connection)', '2m')
    .option('--ca <file>', 'PEM file with extra certificates to trust for ARM and the relay (or NODE_EXTRA_CA_CERTS)');
  addProxyOptions(command);
  return addLogOptions(command);
}

/** Every flag checked before anything goes on the network; an ARM token is fetched once and cached. */
function connectorFrom(flags: ArcFlags, progress: (line: string) => void, warn: (line: string) => void): { connector: ArcConnector; target: ArcTarget } {
  let machine;
  let cloud;
  try {
    machine = parseArcResourceId(flags.resourceId ?? process.env[RESOURCE_ID_ENV]);
    cloud = cloudSettings(flags.cloud, flags.armEndpoint);
  } catch (err) {
    if (err instanceof ResourceIdError || err instanceof CloudSettingsError) fail(err.message);
    throw err;
  }
  const service = ARC_SERVICES.find((s) => s === flags.service.toUpperCase());
  if (!service) fail(`--service must be ${ARC_SERVICES.join(' or ')}, not "${flags.service}"`);
  const port = parsePort(flags.port, '--port');
  if (port === 0) fail('--port must be a number from 1 to 65535, not "0"');
  const waitMs = durationFlag(flags.timeout, '--timeout');
  // --ca adds to the system's trust: ARM and the relay are public Azure endpoints in real use.
  const ca = flags.ca === undefined ? undefined : [...rootCertificates, readPemFile(flags.ca, '--ca')];
  // One proxy for the Entra ID sign-in, ARM and the relay: all three are outside the network.
  const proxy = proxyFrom(flags, warn);
  const tokens = new EntraTokenProvider(undefined, { scope: cloud.armScope, authorityHost: flags.cloud === undefined ? undefined : cloud.authorityHost, proxy });
  const arm = new ArmClient({ endpoint: cloud.armEndpoint, tokens, ca, proxy });
  const target: ArcTarget = { machine, service, port };
  const connector = new ArcConnector({ source: new ArcCredentialSource(arm, target), target, waitMs, tls: ca ? { ca } : undefined, proxy, progress });
  return { connector, target };
}

async function runConnect(flags: ArcFlags, command: Command): Promise<void> {
  // stderr reaches the terminal of the ssh session: progress lines, warnings and errors only.
  const log = loggerFrom({ ...flags, logLevel: command.getOptionValueSource('logLevel') === 'default' ? 'warn' : flags.logLevel });
  const { connector, target } = connectorFrom(flags, (line) => process.stderr.write(`hybridge: arc connect: ${line}\n`), (line) => log.warn(line));
  let stream;
  try {
    stream = await connector.open();
  } catch (err) {
    arcFailure(err, 'arc connect');
  }
  log.debug({ machine: target.machine.name, port: target.port }, 'Arc connection open');
  const result = await pumpStdio(stream, { input: process.stdin, output: process.stdout });
  if (result.outcome !== 'closed') {
    fail(`arc connect: the connection to ${target.machine.name} port ${target.port} broke (${result.error?.message ?? result.outcome})`, ExitCode.Failure);
  }
  process.exit(ExitCode.Ok);
}

async function runPortForward(flags: ArcFlags & BindFlags & MetricsFlags): Promise<void> {
  const log = loggerFrom(flags);
  const { connector, target } = connectorFrom(flags, (line) => log.info(line), (line) => log.warn(line));
  checkBindFlags(flags);
  const metricsSettings = metricsFrom(flags, true);
  const to = `${target.machine.name} port ${target.port}`;
  try {
    await connector.check();
  } catch (err) {
    arcFailure(err, 'arc port-forward');
  }
  const lifecycle = new ConnectionLifecycle(log);
  await serveMetrics(metricsSettings, lifecycle, log);
  const server = await serveLocally(flags, log, arcPortForwardHandler(connector, to), () => undefined, { lifecycle });
  process.stdout.write(`hybridge arc: listening on ${server.address}, forwarding to ${to}\n`);
  log.info({ bind: server.address, machine: target.machine.id, port: target.port, service: target.service }, 'arc port-forward listening');
}

/** ARM and relay failures are run-time failures (exit 1), each one line. */
function arcFailure(err: unknown, command: string): never {
  if (err instanceof ArcSetupError || err instanceof ArcDialError) fail(`${command}: ${err.message}`, ExitCode.Failure);
  throw err;
}
