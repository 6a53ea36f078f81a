/**
 * A relay cluster on loopback for the tests: one real `redis-server`, N `hybridge server --redis`
 * processes with their own --node-id and --public-url, and a TCP balancer in front of them. Every
 * process is stopped by `cluster.stop()` (call it from `after`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSasToken } from '../../src/protocol/sas-token.js';
import { distinctFreePortsBelowEphemeral, waitFor } from '../helpers/async.js';
import { spawnHybridge, type RunningProcess } from '../helpers/processes.js';
import { cleanEnv, runCli, type CliResult } from '../relay/management-cli-kit.js';
import { RedisServer } from './redis-server.js';
import { TcpBalancer } from './tcp-balancer.js';

export const ROOT_RULE = 'RootManageSharedAccessKey';
export const ROOT_KEY = 'cluster-test-root-key-0123456789';

/** One JSON log record of a node. */
export type LogRecord = Record<string, unknown> & { msg: string };

export interface ClusterNode {
  id: string;
  port: number;
  /** ws://127.0.0.1:PORT, the node itself (also its --public-url unless ClusterOptions.publicUrl says otherwise) */
  url: string;
  /** http://127.0.0.1:PORT */
  httpUrl: string;
  proc: RunningProcess;
  /** The node's log records so far (it logs JSON lines). */
  records(): LogRecord[];
  /** Log records with this message. */
  logged(msg: string): LogRecord[];
  /** Waits until the node logged `msg` at least `count` times (matching `filter`). */
  waitForLog(msg: string, timeoutMs: number, filter?: (r: LogRecord) => boolean, count?: number): Promise<LogRecord[]>;
}

export interface ClusterOptions {
  hycos: string[];
  nodes?: number;
  maxListeners?: number;
  drainTimeout?: string;
  /** More `hybridge server` arguments for every node. */
  args?: string[];
  /** The nodes' ports (default: free ones). */
  ports?: number[];
  /** Node i's --public-url (default ws://127.0.0.1:PORT, the node itself). */
  publicUrl?(index: number, port: number): string;
}

export interface Cluster {
  redis: RedisServer;
  nodes: ClusterNode[];
  balancer: TcpBalancer;
  /** Root-key connection string for `entity` with `Endpoint` at `url` (a node or the balancer). */
  connectionString(url: string, entity: string, key?: { name: string; key: string }): string;
  /** SAS token for `entity` (root key unless another is given). */
  token(entity: string, key?: { name: string; key: string }): string;
  /** The cluster-wide listener count of `hyco` as `node` reports it (management API, root key). */
  listenerCount(node: ClusterNode, hyco: string): Promise<number>;
  /** Runs `hybridge ...args -x <root connection string of node>` (a management command). */
  manage(node: ClusterNode, args: string[]): Promise<CliResult>;
  stop(): Promise<void>;
}

/** The first of `nodes` that logged `listener online` for listener `id`. */
export function nodeWithListener(nodes: ClusterNode[], id: string): ClusterNode | undefined {
  return nodes.find((n) => n.logged('listener online').some((r) => r.listenerId === id));
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const dataRoot = mkdtempSync(join(tmpdir(), 'hybridge-cluster-'));
  const redis = await RedisServer.start();
  const nodes: ClusterNode[] = [];
  let balancer: TcpBalancer | undefined;
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.proc.stop('SIGKILL', 1000)));
    await balancer?.close();
    await redis.stop();
    rmSync(dataRoot, { recursive: true, force: true });
  };
  try {
    const count = options.nodes ?? 3;
    const ports = options.ports ?? (await distinctFreePortsBelowEphemeral(count));
    // All nodes start at once: the one that finds Redis empty creates the namespace.
    nodes.push(...ports.map((port, i) => startNode(`node-${String.fromCharCode(97 + i)}`, port, options.publicUrl?.(i, port), redis, options, dataRoot)));
    await Promise.all(nodes.map((n) => n.proc.waitForOutput(/"msg":"relay listening"/, 20_000)));
    balancer = await TcpBalancer.start(ports);
  } catch (err) {
    await stop();
    throw err;
  }
  const cluster: Cluster = {
    redis,
    nodes,
    balancer,
    connectionString: (url, entity, key = { name: ROOT_RULE, key: ROOT_KEY }) =>
      `Endpoint=${url.replace(/\/*$/, '/')};SharedAccessKeyName=${key.name};SharedAccessKey=${key.key};EntityPath=${entity}`,
    token: (entity, key = { name: ROOT_RULE, key: ROOT_KEY }) => createSasToken(`http://127.0.0.1/${entity}`, key.name, key.key, Math.floor(Date.now() / 1000) + 3600),
    listenerCount: async (node, hyco) => {
      const response = await fetch(`${node.httpUrl}/$hybridge/v1/hybridconnections/${encodeURIComponent(hyco)}`, {
        headers: { ServiceBusAuthorization: cluster.token('') },
        signal: AbortSignal.timeout(5000),
      });
      if (response.status !== 200) throw new Error(`listener count from ${node.id}: HTTP ${response.status} ${await response.text()}`);
      return ((await response.json()) as { listenerCount: number }).listenerCount;
    },
    manage: (node, args) => runCli([...args, '-x', `Endpoint=${node.url}/;SharedAccessKeyName=${ROOT_RULE};SharedAccessKey=${ROOT_KEY}`]),
    stop,
  };
  return cluster;
}

function startNode(id: string, port: number, publicUrl: string | undefined, redis: RedisServer, options: ClusterOptions, dataRoot: string): ClusterNode {
  const url = `ws://127.0.0.1:${port}`;
  const args = ['server', '--host', '127.0.0.1', '--port', String(port), '--redis', redis.url, '--node-id', id, '--public-url', publicUrl ?? url, '--root-key', ROOT_KEY, '--log-format', 'json'];
  for (const hyco of options.hycos) args.push('--hyco', hyco);
  if (options.maxListeners) args.push('--max-listeners', String(options.maxListeners));
  if (options.drainTimeout) args.push('--drain-timeout', options.drainTimeout);
  args.push(...(options.args ?? []));
  const proc = spawnHybridge(args, { env: cleanEnv({ HYBRIDGE_DATA_DIR: join(dataRoot, id) }) });
  const records = (): LogRecord[] =>
    proc
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as LogRecord];
        } catch {
          return [];
        }
      });
  const logged = (msg: string) => records().filter((r) => r.msg === msg);
  return {
    id,
    port,
    url,
    httpUrl: `http://127.0.0.1:${port}`,
    proc,
    records,
    logged,
    waitForLog: (msg, timeoutMs, filter = () => true, count = 1) =>
      waitFor(
        () => {
          const found = logged(msg).filter(filter);
          return found.length >= count ? found : undefined;
        },
        timeoutMs,
        `${id} logging "${msg}"`,
      ).then((found) => found!),
  };
}

export { distinctFreePortsBelowEphemeral } from '../helpers/async.js';
