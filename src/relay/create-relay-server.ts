/**
 * The embedding API: a hybridge relay inside another program (its tests, a desktop app), started
 * with one call and stopped with another. It is `hybridge server` without the command line: a
 * namespace in a data directory (a fresh temporary one unless given), the root rule's key, and the
 * URL and connection strings to hand to listeners and senders.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatConnectionString } from '../protocol/connection-string.js';
import { silentLogger, type Logger } from '../util/logger.js';
import { FileStoreBackend } from './file-store-backend.js';
import { ROOT_RULE_NAME } from './namespace-model.js';
import { RelayServer } from './relay-server.js';

export interface CreateRelayServerOptions {
  /** Address to bind; default 127.0.0.1. */
  host?: string;
  /** Port to bind; default 0 (a free one, see `port` in the result). */
  port?: number;
  /** Where the namespace lives; default a new temporary directory, removed by stop(). */
  dataDir?: string;
  /** The key of RootManageSharedAccessKey when the namespace is created; default 32 random bytes. */
  rootKey?: string;
  /** Hybrid connections that must exist. */
  hybridConnections?: string[];
  /** Serve HTTPS/WSS with this certificate and key (PEM). */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** How clients reach the relay, when not at the bound address. */
  publicUrl?: string;
  /** Listeners per hybrid connection (default 25). */
  maxListenersPerEntity?: number;
  /** A pino logger; default silent. */
  log?: Logger;
}

export interface EmbeddedRelay {
  /** `ws://127.0.0.1:PORT` (or wss://, or the public URL). */
  url: string;
  port: number;
  /** The namespace's data directory (the temporary one, unless `dataDir` was given). */
  dataDir: string;
  /** The root rule's connection string (Listen, Send, Manage on everything). */
  rootConnectionString: string;
  /** The root connection string with EntityPath set, for one hybrid connection. */
  connectionString(entityPath?: string): string;
  /** The server itself, for what this interface does not cover. */
  server: RelayServer;
  /** Refuses new work, lets relayed connections run for up to `graceMs` (default 0), then closes everything. */
  stop(graceMs?: number): Promise<void>;
}

export async function createRelayServer(options: CreateRelayServerOptions = {}): Promise<EmbeddedRelay> {
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'hybridge-relay-'));
  const removeOwnDir = () => {
    if (ownDir) rmSync(dataDir, { recursive: true, force: true });
  };
  const server = new RelayServer({
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    backend: new FileStoreBackend(dataDir),
    log: options.log ?? silentLogger(),
    rootKey: options.rootKey ?? randomBytes(32).toString('base64'),
    hybridConnections: options.hybridConnections,
    tls: options.tls,
    publicUrl: options.publicUrl,
    maxListenersPerEntity: options.maxListenersPerEntity,
  });
  let started;
  try {
    started = await server.start();
  } catch (err) {
    removeOwnDir();
    throw err;
  }
  const root = server.store.namespaceRules().find((r) => r.keyName === ROOT_RULE_NAME);
  // An existing namespace whose root rule was deleted has no root connection string to give.
  const connectionString = (entityPath?: string) =>
    root ? formatConnectionString({ endpoint: started.endpoint, sharedAccessKeyName: root.keyName, sharedAccessKey: root.primaryKey, entityPath }) : '';
  let stopped: Promise<void> | undefined;
  return {
    url: started.url,
    port: server.port,
    dataDir,
    rootConnectionString: connectionString(),
    connectionString,
    server,
    stop: (graceMs = 0) =>
      (stopped ??= server.stop(graceMs).finally(removeOwnDir)),
  };
}
