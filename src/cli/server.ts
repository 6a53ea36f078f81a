import { homedir, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { ClusterDirectory } from '../relay/cluster/cluster-directory.js';
import type { RedisPair } from '../relay/cluster/redis-connection.js';
import { parseTrustedProxy } from '../relay/client-address.js';
import { DataDirectoryError, FileStoreBackend } from '../relay/file-store-backend.js';
import type { StoreBackend } from '../relay/namespace-store.js';
import { RelayServer } from '../relay/relay-server.js';
import { reopenLogFiles } from '../util/logger.js';
import { addLogOptions, collect, loggerFrom, onReloadSignal, onShutdownSignal, parseDurationOption, parsePort, parsePositiveInt } from './common-options.js';
import { CliError, ExitCode, fail } from './errors.js';
import { readSecret, VISIBLE_IN_PS } from './secret-input.js';
import { addJwtOptions, jwtOptionsFromFlags, type JwtFlags } from './server-jwt.js';
import { addLimitOptions, limitsFromFlags } from './server-limits.js';
import { addOutboundProxyOptions, outboundProxyFrom, type OutboundProxyFlags } from './server-outbound.js';
import type { RelayObservability } from '../observability/relay-observability.js';
import { addObservabilityOptions, observabilityFrom, startObservability, type ObservabilityFlags } from './server-observability.js';
import { checkTlsFlags, loadTls, writeGeneratedTls } from './server-tls.js';
import { addNamespaceOptions, namespaceHostFor, namespaceSettingsFrom, type NamespaceFlags } from './server-namespaces.js';

interface ServerFlags extends JwtFlags, ObservabilityFlags, OutboundProxyFlags, NamespaceFlags {
  host: string;
  port: string;
  data?: string;
  rootKey?: string;
  rootKeyFile?: string;
  hyco: string[];
  tlsCert?: string;
  tlsKey?: string;
  tlsSelfSigned?: boolean;
  publicUrl?: string;
  maxListeners: string;
  drainTimeout: string;
  redis?: string;
  nodeId?: string;
  redisPrefix: string;
  clusterHeartbeat: string;
  proxyProtocol?: boolean;
  trustedProxy: string[];
  /** false with --no-port-routing. */
  portRouting: boolean;
  logLevel?: string;
  logFormat?: string;
}

export const ROOT_KEY_ENV = 'HYBRIDGE_ROOT_KEY';
export const DATA_DIR_ENV = 'HYBRIDGE_DATA_DIR';

const EXAMPLES = `
Examples:
  hybridge server --hyco web                          # 127.0.0.1:9350; prints the root connection string at the first start
  HYBRIDGE_ROOT_KEY=$(cat root.key) hybridge server --host 0.0.0.0 --tls-cert cert.pem --tls-key key.pem --public-url wss://relay.example.com
  hybridge server --tls-self-signed --data /var/lib/hybridge
  hybridge server --redis redis://10.0.0.5:6379 --node-id a --public-url wss://a.relay.example.com --root-key-file /run/secrets/root-key
  hybridge server --host 0.0.0.0 --proxy-protocol --public-url wss://relay.example.com   # behind haproxy "send-proxy-v2"
  hybridge server --host 0.0.0.0 --trusted-proxy 10.0.0.0/8 --public-url wss://relay.example.com   # behind nginx (X-Forwarded-For)
  hybridge server --admin-key-file /etc/hybridge/admin.key --namespace-domain relay.example.com   # hosted namespaces (docs/namespaces.md)
  hybridge server --jwt-issuer https://login.microsoftonline.com/<tenant>/v2.0 --jwt-roles roles.yaml   # Entra ID tokens beside SAS

The data directory is --data, else $${DATA_DIR_ENV}/relay, else ~/.hybridge/relay (cluster nodes keep
the namespace in Redis and use it only for a --tls-self-signed certificate). The root connection string is printed only when this start
created the namespace with a generated key.

Exit codes: 0 stopped by SIGINT/SIGTERM, 1 the server could not run (port in use, data directory
locked, Redis unreachable), 2 invalid command line, key, certificate or URL. See README.md and
docs/cluster.md, docs/deployment.md (load balancers) and docs/identity-tokens.md.`;

export function defaultDataDirectory(): string {
  return join(process.env[DATA_DIR_ENV] ?? join(homedir(), '.hybridge'), 'relay');
}

export function registerServerCommand(program: Command): void {
  const command = program
    .command('server')
    .description('run a Hybrid Connections relay (the self-hosted equivalent of an Azure Relay namespace)')
    .option('--host <address>', 'address to bind', '127.0.0.1')
    .option('--port <port>', 'port to bind', '9350')
    .option('--data <dir>', `directory for the namespace configuration (default $${DATA_DIR_ENV}/relay or ~/.hybridge/relay; ignored with --redis)`)
    .option('--root-key <key>', `key of RootManageSharedAccessKey when the namespace is first created (default: random; ${VISIBLE_IN_PS}: prefer --root-key-file or $${ROOT_KEY_ENV})`)
    .option('--root-key-file <file>', `read --root-key from this file (its first line) [env ${ROOT_KEY_ENV}]`)
    .option('--hyco <name>', 'make sure this hybrid connection exists (repeatable)', collect, [])
    .option('--tls-cert <file>', 'PEM certificate (chain) for HTTPS/WSS')
    .option('--tls-key <file>', 'PEM private key for --tls-cert')
    .option('--tls-self-signed', 'serve HTTPS/WSS with a generated self-signed certificate (kept in the data directory)')
    .option('--public-url <url>', 'how clients reach this server: ws://, wss://, http://, https:// or sb:// with a host and optional port, no path (used in connection strings and rendezvous addresses)')
    .option('--max-listeners <n>', 'listeners allowed per hybrid connection', '25')
    .option('--drain-timeout <duration>', 'on SIGTERM/SIGINT, how long relayed connections may run before they are closed', '30s')
    .option('--redis <url>', 'run as a node of a relay cluster sharing this Redis (redis://host:port[/db]); needs --public-url')
    .option('--node-id <id>', 'this node\'s name in the cluster (default: the host name)')
    .option('--redis-prefix <prefix>', 'key prefix, to keep several clusters in one Redis apart', 'hybridge:')
    .option('--cluster-heartbeat <duration>', 'how often a node announces itself in Redis; a node silent for 5 heartbeats is forgotten with its listeners', '1s')
    .option('--proxy-protocol', 'every connection starts with a PROXY protocol v1/v2 header from a load balancer naming the client (read before TLS); connections without one are closed')
    .option('--trusted-proxy <cidr>', 'a load balancer or proxy (address or CIDR, repeatable) whose Forwarded / X-Forwarded-For headers name the client; from other peers these headers are ignored', collect, [])
    .option('--no-port-routing', 'pick listeners as Azure Relay does, without looking at the port names hybridge senders and listeners announce (Hybridge-Port / Hybridge-Ports)');
  addOutboundProxyOptions(addObservabilityOptions(addLogOptions(addLimitOptions(addJwtOptions(addNamespaceOptions(command)))))).addHelpText('after', EXAMPLES).action(async (flags: ServerFlags) => runServer(flags));
}

async function runServer(flags: ServerFlags): Promise<void> {
  const log = loggerFrom(flags);
  const port = parsePort(flags.port, '--port');
  const maxListeners = parsePositiveInt(flags.maxListeners, '--max-listeners', 1, 1000);
  const drainMs = parseDurationOption(flags.drainTimeout, '--drain-timeout');
  const heartbeatMs = parseDurationOption(flags.clusterHeartbeat, '--cluster-heartbeat');
  const limits = limitsFromFlags(flags);
  const outboundProxy = outboundProxyFrom(flags, log);
  const jwtFlags = jwtOptionsFromFlags(flags);
  const jwt = jwtFlags && { ...jwtFlags, proxy: outboundProxy };
  if (heartbeatMs < 100 || heartbeatMs > 60_000) fail('--cluster-heartbeat must be from 100ms to 60s');
  if (flags.publicUrl !== undefined) checkPublicUrl(flags.publicUrl);
  for (const text of flags.trustedProxy) {
    const parsed = parseTrustedProxy(text);
    if (typeof parsed === 'string') fail(parsed);
  }
  const rootKey = rootKeyFrom(flags);
  const dataDir = resolve(flags.data ?? defaultDataDirectory());
  checkTlsFlags(flags);
  const nodeId = flags.nodeId ?? hostname().split('.')[0]!;
  const monitoring = { ...(await observabilityFrom(flags, log)), proxy: outboundProxy };
  if (flags.redis) {
    if (!flags.publicUrl) fail('--redis needs --public-url: each node tells listeners how to reach it directly (rendezvous addresses name the sender\'s node)');
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(nodeId)) fail('--node-id must be 1 to 64 letters, digits, ".", "_" or "-"');
  }
  const namespaces = namespaceSettingsFrom(flags, log);
  // Every flag and file is checked before anything is bound, connected or written.
  const tls = loadTls(flags, dataDir);
  if (flags.redis && flags.data !== undefined && !flags.tlsSelfSigned) {
    log.warn({ data: flags.data }, '--data is ignored in cluster mode: the namespace lives in Redis (only --tls-self-signed keeps its certificate in the data directory)');
  }
  if (!tls && !isLoopback(flags.host)) {
    log.warn({ host: flags.host }, 'serving plain HTTP/WebSocket on a non-loopback address: keys and data cross the network unencrypted; use --tls-cert/--tls-key or --tls-self-signed');
  }
  let redis: RedisPair | undefined;
  let backend: StoreBackend;
  // The cluster modules (and ioredis) load only for a cluster node: every other command starts faster.
  const clusterModules = flags.redis
    ? await Promise.all([import('../relay/cluster/redis-connection.js'), import('../relay/cluster/redis-store-backend.js'), import('../relay/cluster/cluster-directory.js')])
    : undefined;
  if (flags.redis && clusterModules) {
    const [{ connectRedis }, { RedisStoreBackend }] = clusterModules;
    try {
      redis = await connectRedis(flags.redis, flags.redisPrefix, log);
    } catch (err) {
      fail((err as Error).message, ExitCode.Failure);
    }
    backend = new RedisStoreBackend(redis);
  } else {
    // Locked when the server opens the namespace, after it has bound its port.
    backend = new FileStoreBackend(dataDir);
  }
  let cluster: ClusterDirectory | undefined;
  const routes: { handle?: RelayObservability['routes'] } = {};
  const hostedNamespaces = await namespaceHostFor(namespaces, { dataDir, redis }, log);
  const server = new RelayServer({
    host: flags.host,
    port,
    backend,
    log,
    rootKey: rootKey?.value,
    hybridConnections: flags.hyco,
    tls,
    publicUrl: flags.publicUrl,
    maxListenersPerEntity: maxListeners,
    limits,
    jwt,
    portRouting: flags.portRouting,
    nodeId,
    proxyProtocol: flags.proxyProtocol === true,
    trustedProxies: flags.trustedProxy,
    directory: redis && clusterModules ? (local) => (cluster = new clusterModules[2].ClusterDirectory(local, redis, { maxPerEntity: maxListeners, log, heartbeatMs })) : undefined,
    extraRoutes: (req, res, url) => routes.handle?.(req, res, url) ?? false,
    namespaceDomain: namespaces.domain,
    hostedNamespaces,
  });
  // Loaded here, not with the command tree: prom-client alone is a good part of every command's start-up time.
  const { RelayObservability: Observability } = await import('../observability/relay-observability.js');
  const observability: RelayObservability = new Observability(server, monitoring);
  routes.handle = observability.routes;
  let started;
  try {
    await cluster?.start();
    started = await server.start();
    writeGeneratedTls(tls, (text) => process.stderr.write(text));
  } catch (err) {
    await cluster?.close().catch(() => undefined);
    await backend.close?.();
    await redis?.close();
    throw startFailure(err, flags.host, port);
  }
  await startObservability(observability, monitoring, log);
  // Before the first line that says the server is up: whoever waits for it may signal at once.
  onShutdownSignal(log, async () => {
    await server.stop(drainMs);
    await observability.close();
    await redis?.close();
  });
  onReloadSignal(log, () => {
    reopenLogFiles();
    observability.reopenFiles();
    log.info({ logFile: flags.logFile, eventLog: flags.eventLog, auditLog: flags.auditLog }, 'SIGHUP: log files reopened');
  });
  log.info(
    { url: started.url, ...(redis ? { node: nodeId, cluster: 'redis' } : { data: dataDir }), tls: tls ? 'on' : 'off', hybridConnections: server.store.hybridConnections().length, namespaces: server.namespaces.size - 1, adminApi: namespaces.adminKey ? 'on' : 'off', jwtIssuers: jwt?.issuers.length },
    'relay listening',
  );
  if (started.rootConnectionString) {
    const where = redis ? 'Redis' : dataDir;
    // A key the user chose is already known to them; printing it would only copy it into logs.
    process.stdout.write(
      rootKey
        ? `Created a new namespace in ${where}; the key of RootManageSharedAccessKey is the one from ${rootKey.where}.\n`
        : `Created a new namespace in ${where}.\nRoot connection string (shown once; keep it secret):\n${started.rootConnectionString}\n`,
    );
  }
}

/** --root-key, --root-key-file or $HYBRIDGE_ROOT_KEY, checked. */
function rootKeyFrom(flags: ServerFlags): { value: string; where: string } | undefined {
  const key = readSecret({ flag: { value: flags.rootKey, name: '--root-key' }, file: { path: flags.rootKeyFile, name: '--root-key-file' }, variable: ROOT_KEY_ENV });
  if (key && !/^[\x21-\x3a\x3c-\x7e]{16,256}$/.test(key.value)) fail(`${key.where}: the root key must be 16 to 256 printable characters without spaces or ";"`);
  return key;
}

/** A URL clients can use: a relay scheme, a host, an optional port, nothing else. */
export function checkPublicUrl(text: string): void {
  const expected = 'expected scheme://host[:port] with scheme ws, wss, http, https or sb, e.g. wss://relay.example.com';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    fail(`--public-url "${text}" is not a URL; ${expected}`);
  }
  if (!['ws:', 'wss:', 'http:', 'https:', 'sb:'].includes(url.protocol)) fail(`--public-url "${text}" has the scheme "${url.protocol.replace(/:$/, '')}"; ${expected}`);
  if (!url.hostname) fail(`--public-url "${text}" has no host; ${expected}`);
  if (url.username || url.password) fail(`--public-url "${text}" must not contain a user name or password`);
  if ((url.pathname !== '' && url.pathname !== '/') || url.search || url.hash || /[?#]/.test(text)) {
    fail(`--public-url "${text}" must not have a path, query or fragment: clients add /$hc/... themselves; ${expected}`);
  }
}

function startFailure(err: unknown, host: string, port: number): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') return new CliError(`port ${port} on ${host} is already in use; pick another with --port`, ExitCode.Failure);
  if (code === 'EACCES') return new CliError(`not allowed to bind ${host}:${port}${port < 1024 ? ' (ports below 1024 need root or CAP_NET_BIND_SERVICE)' : ''}`, ExitCode.Failure);
  if (code === 'EADDRNOTAVAIL') return new CliError(`--host ${host} is not an address of this machine`, ExitCode.Usage);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new CliError(`--host ${host} does not resolve to an address of this machine`, ExitCode.Usage);
  if (err instanceof DataDirectoryError) return new CliError(err.message, ExitCode.Failure);
  return err instanceof Error ? err : new Error(String(err));
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}
