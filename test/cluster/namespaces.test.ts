/**
 * Hosted namespaces in a cluster: created on one node, served by every node (the catalog and the
 * documents are in Redis); deleted on one node, cut on every node; a Redis that restarts empty
 * gets the namespaces written back by the nodes, and nothing is cut.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { ManagementClient } from '../../src/client/management-client.js';
import { parseConnectionString } from '../../src/protocol/connection-string.js';
import { createSasToken } from '../../src/protocol/sas-token.js';
import { waitFor } from '../helpers/async.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { acceptAndEcho, closedPromise, openSender, RawListener, toBuffer, type RelayAddress } from '../relay/protocol-peers.js';
import { startCluster, type Cluster, type ClusterNode } from './cluster-kit.js';

const ADMIN_KEY = 'cluster-admin-key-0123456789abcdef';

function adminFetch(node: ClusterNode, method: string, name: string): Promise<Response> {
  return fetch(`${node.httpUrl}/$hybridge/v1/namespaces/${name}`, { method, headers: { Authorization: `Bearer ${ADMIN_KEY}` }, body: method === 'PUT' ? '{}' : undefined, signal: AbortSignal.timeout(5000) });
}

function addressOn(node: ClusterNode, name: string, key: string): RelayAddress {
  const prefix = `/$ns/${name}`;
  return {
    port: node.port,
    wsBase: `${node.url}${prefix}`,
    httpBase: `${node.httpUrl}${prefix}`,
    token: (entity) => createSasToken(`http://127.0.0.1${prefix}/${entity}`, 'RootManageSharedAccessKey', key, Math.floor(Date.now() / 1000) + 3600),
  };
}

describe('hosted namespaces in a cluster', () => {
  let dir: string;
  let cluster: Cluster;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hybridge-cluster-ns-'));
    const keyFile = join(dir, 'admin.key');
    writeFileSync(keyFile, `${ADMIN_KEY}\n`, { mode: 0o600 });
    cluster = await startCluster({ hycos: [], nodes: 2, args: ['--admin-key-file', keyFile] });
  });

  after(async () => {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves a namespace created on node A from node B, and cuts it on both when deleted', async () => {
    const [a, b] = cluster.nodes as [ClusterNode, ClusterNode];
    const created = await adminFetch(a, 'PUT', 'shared-ns');
    assert.equal(created.status, 201);
    const cs = ((await created.json()) as { rootConnectionString: string }).rootConnectionString;
    assert.match(cs, new RegExp(`^Endpoint=ws://127\\.0\\.0\\.1:${a.port}/\\$ns/shared-ns/;`));
    const key = parseConnectionString(cs).sharedAccessKey!;
    const onB = new ManagementClient({ endpoint: { secure: false, host: '127.0.0.1', port: b.port, namespacePath: '/$ns/shared-ns' }, credential: { keyName: 'RootManageSharedAccessKey', key } });
    // Node B hears of it through Redis; bounded wait for the announcement.
    await waitFor(async () => (await adminFetch(b, 'GET', 'shared-ns')).status === 200, 5000, 'node B serving the namespace');
    await onB.createHybridConnection('web', {});

    const listener = await RawListener.open(addressOn(b, 'shared-ns', key), 'web', { onAccept: (accept, l) => acceptAndEcho(accept, l) });
    const sender = await openSender(addressOn(a, 'shared-ns', key), 'web');
    const payload = patternBytes(200_000, 31);
    const chunks: Buffer[] = [];
    sender.on('message', (data) => chunks.push(toBuffer(data)));
    sender.send(payload, { binary: true });
    await waitFor(() => Buffer.concat(chunks).length >= payload.length, 5000, 'echo across nodes');
    assert.equal(sha256(chunks), sha256(payload));
    const senderClosed = closedPromise(sender);

    const deleted = await adminFetch(a, 'DELETE', 'shared-ns');
    assert.equal(deleted.status, 200);
    assert.deepEqual(await listener.waitClosed(), { code: 1001, reason: 'namespace deleted' });
    assert.equal((await senderClosed).code, 1001);
    await waitFor(async () => (await adminFetch(b, 'GET', 'shared-ns')).status === 404, 5000, 'node B forgetting the namespace');
    await b.waitForLog('namespace deleted; its listeners and connections were closed', 5000, (r) => r.namespace === 'shared-ns');
  });

  it('keeps serving a namespace when Redis restarts empty: the nodes write it back, nothing is cut', async () => {
    const [a, b] = cluster.nodes as [ClusterNode, ClusterNode];
    const created = await adminFetch(a, 'PUT', 'kept-ns');
    assert.equal(created.status, 201);
    const key = parseConnectionString(((await created.json()) as { rootConnectionString: string }).rootConnectionString).sharedAccessKey!;
    await waitFor(async () => (await adminFetch(b, 'GET', 'kept-ns')).status === 200, 5000, 'node B serving the namespace');
    const onA = new ManagementClient({ endpoint: { secure: false, host: '127.0.0.1', port: a.port, namespacePath: '/$ns/kept-ns' }, credential: { keyName: 'RootManageSharedAccessKey', key } });
    await onA.createHybridConnection('web', {});
    // Created on node A: node B hears of the hybrid connection through Redis, so its first listen may still get 404.
    let opened: RawListener | undefined;
    await waitFor(
      async () => (opened = await RawListener.open(addressOn(b, 'kept-ns', key), 'web', { onAccept: (accept, l) => acceptAndEcho(accept, l) }).catch(() => undefined)) !== undefined,
      5000,
      'node B accepting a listener for the new hybrid connection',
    );
    const listener = opened!;

    await cluster.redis.restart();
    // The first node back writes the catalog back; the other finds it there.
    const recovered = 'the cluster store lost the namespace catalog (Redis restarted without its data?); this node wrote back the namespaces it serves';
    await waitFor(() => a.logged(recovered).length + b.logged(recovered).length === 1, 30_000, 'one node writing the catalog back');
    // Both nodes serve it again through Redis: a sender on node A reaches the listener on node B.
    await waitFor(
      async () => {
        const sender = await openSender(addressOn(a, 'kept-ns', key), 'web').catch(() => undefined);
        if (!sender) return false;
        const payload = patternBytes(100_000, 41);
        const chunks: Buffer[] = [];
        sender.on('message', (data) => chunks.push(toBuffer(data)));
        sender.send(payload, { binary: true });
        await waitFor(() => Buffer.concat(chunks).length >= payload.length, 5000, 'echo across nodes after the restart').catch(() => undefined);
        sender.close();
        return sha256(chunks) === sha256(payload);
      },
      20_000,
      'a cross-node exchange in the written-back namespace',
    );
    assert.equal(listener.ws.readyState, WebSocket.OPEN, 'the listener was not cut');
    for (const node of [a, b]) assert.equal((await adminFetch(node, 'GET', 'kept-ns')).status, 200);
    await onA.getHybridConnection('web');
    await listener.close();
  });
});
