/** Relays with hosted namespaces, and the peers of one namespace, for the namespace tests. */
import { request } from 'node:http';
import { parseConnectionString } from '../../../src/protocol/connection-string.js';
import { createSasToken } from '../../../src/protocol/sas-token.js';
import { FileNamespaceCatalog } from '../../../src/relay/namespaces/file-catalog.js';
import { NamespaceHost } from '../../../src/relay/namespaces/namespace-host.js';
import { silentLogger } from '../../../src/util/logger.js';
import { startRelay, type StartRelayOptions, type TestRelay } from '../../helpers/relay.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RelayAddress } from '../protocol-peers.js';

export const ADMIN_KEY = 'test-admin-key-0123456789abcdef';

export interface NamespaceRelay extends TestRelay {
  host: NamespaceHost;
}

/** A relay in this process hosting namespaces in its data directory, with ADMIN_KEY as the admin key. */
export async function startNamespaceRelay(options: StartRelayOptions & { maxNamespaces?: number } = {}): Promise<NamespaceRelay> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'hybridge-ns-'));
  const host = new NamespaceHost({ catalog: new FileNamespaceCatalog(dataDir), adminKey: ADMIN_KEY, maxNamespaces: options.maxNamespaces ?? 1000, log: options.log ?? silentLogger() });
  const { maxNamespaces: _max, ...rest } = options;
  const relay = await startRelay({ ...rest, dataDir, hostedNamespaces: host });
  const stop = relay.stop;
  return { ...relay, host, stop: async () => {
    await stop();
    if (!options.dataDir) (await import('node:fs')).rmSync(dataDir, { recursive: true, force: true });
  } };
}

export interface AdminAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** One call of the admin API over HTTP (Authorization: Bearer ADMIN_KEY unless told otherwise). */
export function adminCall(port: number, method: string, path: string, options: { key?: string | null; body?: unknown; host?: string } = {}): Promise<AdminAnswer> {
  const key = options.key === undefined ? ADMIN_KEY : options.key;
  const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = {};
    if (key !== null) headers.Authorization = `Bearer ${key}`;
    if (payload) headers['Content-Length'] = payload.length;
    if (options.host) headers.Host = options.host;
    const req = request({ host: '127.0.0.1', port, method, path: `/$hybridge/v1${path}`, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} });
      });
    });
    req.setTimeout(10_000, () => req.destroy(new Error('admin call timed out')));
    req.on('error', reject);
    req.end(payload);
  });
}

export interface CreatedNamespace {
  name: string;
  rootConnectionString: string;
  rootKey: string;
  /** The namespace by path prefix: what the raw peers need. */
  address: RelayAddress;
}

/** Creates a namespace through the admin API. */
export async function createNamespace(relay: TestRelay, name: string, limits?: Record<string, number>): Promise<CreatedNamespace> {
  const answer = await adminCall(relay.port, 'PUT', `/namespaces/${name}`, { body: limits ? { limits } : {} });
  if (answer.status !== 201) throw new Error(`creating ${name}: HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
  const rootConnectionString = String(answer.body.rootConnectionString);
  const rootKey = parseConnectionString(rootConnectionString).sharedAccessKey!;
  return { name, rootConnectionString, rootKey, address: namespaceAddress(relay, name, rootKey) };
}

/** The peers' view of namespace `name` by path prefix, with tokens signed by `key` for its audiences. */
export function namespaceAddress(relay: TestRelay, name: string, key: string, keyName = 'RootManageSharedAccessKey'): RelayAddress {
  const prefix = `/$ns/${name}`;
  return {
    port: relay.port,
    wsBase: `${relay.wsBase}${prefix}`,
    httpBase: `${relay.httpBase}${prefix}`,
    token: (entity: string) => createSasToken(`http://127.0.0.1:${relay.port}${prefix}/${entity}`, keyName, key, Math.floor(Date.now() / 1000) + 3600),
  };
}
