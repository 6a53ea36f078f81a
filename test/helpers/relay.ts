import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSasToken } from '../../src/protocol/sas-token.js';
import { FileStoreBackend } from '../../src/relay/file-store-backend.js';
import { RelayServer, type RelayServerOptions } from '../../src/relay/relay-server.js';
import { generateSelfSignedCertificate } from '../../src/relay/self-signed.js';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { silentLogger, type Logger } from '../../src/util/logger.js';

export const ROOT_KEY = 'test-root-key-0123456789abcdef';
export const ROOT_RULE = 'RootManageSharedAccessKey';

export interface TestRelay {
  server: RelayServer;
  port: number;
  /** ws://127.0.0.1:PORT or wss://127.0.0.1:PORT */
  wsBase: string;
  /** http://127.0.0.1:PORT or https://... */
  httpBase: string;
  dataDir: string;
  /** Root-key connection string, optionally for one hybrid connection. */
  connectionString(entityPath?: string): string;
  /** A SAS token for `entity` signed with the root key (or another key). */
  token(entity: string, options?: { keyName?: string; key?: string; ttlSeconds?: number }): string;
  /** PEM of the self-signed certificate when started with tls. */
  ca?: string;
  stop(): Promise<void>;
}

/** A logger that keeps every record (JSON-parsed), for tests that check what the relay logged. */
export function capturingLogger(): { log: Logger; records: Record<string, unknown>[] } {
  const records: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) records.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'debug' }, sink), records };
}

export interface StartRelayOptions extends Partial<Omit<RelayServerOptions, 'backend' | 'log' | 'tls'>> {
  /** Where the relay logs (silent by default). */
  log?: Logger;
  tls?: boolean;
  /** More names for the self-signed certificate (besides localhost, 127.0.0.1 and ::1). */
  tlsNames?: string[];
  dataDir?: string;
  /** Keep the data directory on stop (restart tests). */
  keepData?: boolean;
}

/** Starts a relay in this process on 127.0.0.1 with a fresh data directory. */
export async function startRelay(options: StartRelayOptions = {}): Promise<TestRelay> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'hybridge-relay-'));
  const cert = options.tls ? generateSelfSignedCertificate(['localhost', '127.0.0.1', '::1', ...(options.tlsNames ?? [])]) : undefined;
  const backend = new FileStoreBackend(dataDir);
  backend.lock();
  const { tlsNames: _names, ...serverOptions } = options;
  const server = new RelayServer({
    host: '127.0.0.1',
    port: 0,
    rootKey: ROOT_KEY,
    ...serverOptions,
    backend,
    log: options.log ?? silentLogger(),
    tls: cert,
  });
  await server.start();
  const port = server.port;
  const secure = options.tls === true;
  const wsBase = `${secure ? 'wss' : 'ws'}://127.0.0.1:${port}`;
  const httpBase = `${secure ? 'https' : 'http'}://127.0.0.1:${port}`;
  return {
    server,
    port,
    wsBase,
    httpBase,
    dataDir,
    ca: cert?.cert,
    connectionString: (entityPath) =>
      `Endpoint=${secure ? 'sb' : 'ws'}://127.0.0.1:${port}/;SharedAccessKeyName=${ROOT_RULE};SharedAccessKey=${ROOT_KEY}${entityPath ? `;EntityPath=${entityPath}` : ''}`,
    token: (entity, o = {}) =>
      createSasToken(`http://127.0.0.1:${port}/${entity}`, o.keyName ?? ROOT_RULE, o.key ?? ROOT_KEY, Math.floor(Date.now() / 1000) + (o.ttlSeconds ?? 3600)),
    stop: async () => {
      await server.stop(0);
      if (!options.keepData && !options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
