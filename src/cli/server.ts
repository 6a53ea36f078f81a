import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { parseRelayEndpoint } from '../protocol/relay-endpoint.js';
import type { ClusterDirectory } from '../relay/cluster/cluster-directory.js';
import type { RedisPair } from '../relay/cluster/redis-connection.js';
import { FileStoreBackend } from '../relay/file-store-backend.js';
import type { StoreBackend } from '../relay/namespace-store.js';
import { RelayServer } from '../relay/relay-server.js';
import { generateSelfSignedCertificate } from '../relay/self-signed.js';
import { reopenLogFiles } from '../util/logger.js';
import { addLogOptions, collect, loggerFrom, onReloadSignal, onShutdownSignal, parseDurationOption, parsePort, parsePositiveInt } from './common-options.js';
import { addObservabilityOptions, observabilityFrom, RelayObservability, startObservability, type ObservabilityFlags } from './server-observability.js';
import { fail } from './errors.js';

interface ServerFlags extends ObservabilityFlags {
  host: string;
  port: string;
  data?: string;
  rootKey?: string;
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
  logLevel?: string;
  logFormat?: string;
}

export function defaultDataDirectory(): string {
  return join(process.env.HYBRIDGE_DATA_DIR ?? join(homedir(), '.hybridge'), 'relay');
}

export function registerServerCommand(program: Command): void {
  const command = program
    .command('server')
    .description('run a Hybrid Connections relay (the self-hosted equivalent of an Azure Relay namespace)')
    .option('--host <address>', 'address to bind', '127.0.0.1')
    .option('--port <port>', 'port to bind', '9350')
    .option('--data <dir>', 'directory for the namespace configuration (default ~/.hybridge/relay)')
    .option('--root-key <key>', 'key of RootManageSharedAccessKey when the namespace is first created (default: random)')
    .option('--hyco <name>', 'make sure this hybrid connection exists (repeatable)', collect, [])
    .option('--tls-cert <file>', 'PEM certificate (chain) for HTTPS/WSS')
    .option('--tls-key <file>', 'PEM private key for --tls-cert')
    .option('--tls-self-signed', 'serve HTTPS/WSS with a generated self-signed certificate (kept in the data directory)')
    .option('--public-url <url>', 'how clients reach this server, e.g. wss://relay.example.com (used in connection strings and rendezvous addresses)')
    .option('--max-listeners <n>', 'listeners allowed per hybrid connection', '25')
    .option('--drain-timeout <duration>', 'on SIGTERM/SIGINT, how long relayed connections may run before they are closed', '30s')
    .option('--redis <url>', 'run as a node of a relay cluster sharing this Redis (redis://host:port[/db]); needs --public-url')
    .option('--node-id <id>', 'this node\'s name in the cluster (default: the host name)')
    .option('--redis-prefix <prefix>', 'key prefix, to keep several clusters in one Redis apart', 'hybridge:')
    .option('--cluster-heartbeat <duration>', 'how often a node announces itself in Redis; a node silent for 5 heartbeats is forgotten with its listeners', '1s');
  addObservabilityOptions(addLogOptions(command)).action(async (flags: ServerFlags) => runServer(flags));
}

async function runServer(flags: ServerFlags): Promise<void> {
  const log = loggerFrom(flags);
  const port = parsePort(flags.port, '--port');
  const maxListeners = parsePositiveInt(flags.maxListeners, '--max-listeners', 1, 1000);
  const drainMs = parseDurationOption(flags.drainTimeout, '--drain-timeout');
  const heartbeatMs = parseDurationOption(flags.clusterHeartbeat, '--cluster-heartbeat');
  if (heartbeatMs < 100 || heartbeatMs > 60_000) fail('--cluster-heartbeat must be from 100ms to 60s');
  if (flags.publicUrl) {
    try {
      parseRelayEndpoint(flags.publicUrl);
    } catch (err) {
      fail(`--public-url: ${(err as Error).message}`);
    }
  }
  if (flags.rootKey !== undefined && !/^[\x21-\x3a\x3c-\x7e]{16,256}$/.test(flags.rootKey)) {
    fail('--root-key must be 16 to 256 printable characters without spaces or ";"');
  }
  const dataDir = resolve(flags.data ?? defaultDataDirectory());
  checkTlsFlags(flags);
  const nodeId = flags.nodeId ?? hostname().split('.')[0]!;
  const monitoring = await observabilityFrom(flags, log);
  if (flags.redis) {
    if (!flags.publicUrl) fail('--redis needs --public-url: each node tells listeners how to reach it directly (rendezvous addresses name the sender\'s node)');
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(nodeId)) fail('--node-id must be 1 to 64 letters, digits, ".", "_" or "-"');
  }
  let redis: RedisPair | undefined;
  let backend: StoreBackend;
  let fileBackend: FileStoreBackend | undefined;
  // The cluster modules (and ioredis) load only for a cluster node: every other command starts faster.
  const clusterModules = flags.redis
    ? await Promise.all([import('../relay/cluster/redis-connection.js'), import('../relay/cluster/redis-store-backend.js'), import('../relay/cluster/cluster-directory.js')])
    : undefined;
  if (flags.redis && clusterModules) {
    const [{ connectRedis }, { RedisStoreBackend }] = clusterModules;
    try {
      redis = await connectRedis(flags.redis, flags.redisPrefix, log);
    } catch (err) {
      fail((err as Error).message, 1);
    }
    backend = new RedisStoreBackend(redis);
  } else {
    fileBackend = new FileStoreBackend(dataDir);
    try {
      fileBackend.lock();
    } catch (err) {
      fail((err as Error).message, 1);
    }
    backend = fileBackend;
  }
  let tls;
  try {
    tls = loadTls(flags, dataDir);
  } catch (err) {
    await fileBackend?.close();
    await redis?.close();
    throw err;
  }
  if (!tls && !isLoopback(flags.host)) {
    log.warn({ host: flags.host }, 'serving plain HTTP/WebSocket on a non-loopback address: keys and data cross the network unencrypted; use --tls-cert/--tls-key or --tls-self-signed');
  }
  let cluster: ClusterDirectory | undefined;
  const routes: { handle?: RelayObservability['routes'] } = {};
  const server = new RelayServer({
    host: flags.host,
    port,
    backend,
    log,
    rootKey: flags.rootKey,
    hybridConnections: flags.hyco,
    tls,
    publicUrl: flags.publicUrl,
    maxListenersPerEntity: maxListeners,
    nodeId,
    directory: redis && clusterModules ? (local) => (cluster = new clusterModules[2].ClusterDirectory(local, redis, { maxPerEntity: maxListeners, log, heartbeatMs })) : undefined,
    extraRoutes: (req, res, url) => routes.handle?.(req, res, url) ?? false,
  });
  const observability = new RelayObservability(server, monitoring);
  routes.handle = observability.routes;
  let started;
  try {
    await cluster?.start();
    started = await server.start();
  } catch (err) {
    await backend.close?.();
    await redis?.close();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') fail(`port ${port} on ${flags.host} is already in use; pick another with --port`, 1);
    if (code === 'EACCES') fail(`not allowed to bind ${flags.host}:${port}`, 1);
    throw err;
  }
  log.info(
    { url: started.url, ...(redis ? { node: nodeId, cluster: 'redis' } : { data: dataDir }), tls: tls ? 'on' : 'off', hybridConnections: server.store.hybridConnections().length },
    'relay listening',
  );
  if (started.rootConnectionString) {
    process.stdout.write(
      `Created a new namespace in ${redis ? 'Redis' : dataDir}.\nRoot connection string (shown once; keep it secret):\n${started.rootConnectionString}\n`,
    );
  }
  await startObservability(observability, monitoring, log);
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
}

function checkTlsFlags(flags: ServerFlags): void {
  if (flags.tlsSelfSigned && (flags.tlsCert || flags.tlsKey)) fail('use either --tls-cert/--tls-key or --tls-self-signed, not both');
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) fail('--tls-cert and --tls-key go together');
}

function loadTls(flags: ServerFlags, dataDir: string): { cert: string; key: string } | undefined {
  if (flags.tlsCert && flags.tlsKey) {
    try {
      return { cert: readFileSync(flags.tlsCert, 'utf8'), key: readFileSync(flags.tlsKey, 'utf8') };
    } catch (err) {
      fail(`cannot read the TLS certificate or key: ${(err as Error).message}`);
    }
  }
  if (!flags.tlsSelfSigned) return undefined;
  const certFile = join(dataDir, 'tls-cert.pem');
  const keyFile = join(dataDir, 'tls-key.pem');
  if (existsSync(certFile) && existsSync(keyFile)) return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
  const hosts = ['localhost', '127.0.0.1', '::1', hostname()];
  if (!isWildcardOrLoopback(flags.host)) hosts.push(flags.host);
  if (flags.publicUrl) hosts.push(parseRelayEndpoint(flags.publicUrl).host);
  const generated = generateSelfSignedCertificate(hosts);
  writeFileSync(certFile, generated.cert, { mode: 0o644 });
  writeFileSync(keyFile, generated.key, { mode: 0o600 });
  process.stderr.write(`Generated a self-signed certificate: ${certFile}\nClients trust it with NODE_EXTRA_CA_CERTS=${certFile} (or --ca ${certFile}).\n`);
  return generated;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

function isWildcardOrLoopback(host: string): boolean {
  return isLoopback(host) || host === '0.0.0.0' || host === '::';
}
