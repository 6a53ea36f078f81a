/**
 * The library as a user imports it (src/index.ts is the package's entry point, `hybridge` in
 * package.json "exports"): a relay embedded with createRelayServer(), and a listener and a sender
 * built from a connection string alone, as the .NET SDK's constructors take one.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createRelayServer, HybridConnectionClient, HybridConnectionListener, parseConnectionString } from '../../src/index.js';
import { readAll } from '../helpers/async.js';
import { patternBytes, sha256 } from '../helpers/data.js';

describe('embedding: createRelayServer() and connection-string constructors', () => {
  it('runs a relay in-process, carries bytes between a listener and a sender, and stop() frees the port and the data directory', async () => {
    const relay = await createRelayServer({ hybridConnections: ['embedded'] });
    assert.match(relay.url, /^ws:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(relay.url, `ws://127.0.0.1:${relay.port}`);
    const root = parseConnectionString(relay.rootConnectionString);
    assert.equal(root.sharedAccessKeyName, 'RootManageSharedAccessKey');
    assert.equal(Buffer.from(root.sharedAccessKey!, 'base64').length, 32, 'a random 256-bit root key');
    const dataDir = relay.dataDir;

    const listener = new HybridConnectionListener(relay.connectionString('embedded'));
    listener.on('connection', (stream) => stream.pipe(stream));
    await listener.open();
    const payload = patternBytes(512 * 1024, 5);
    const stream = await new HybridConnectionClient(relay.rootConnectionString, 'embedded').createConnection();
    stream.end(payload);
    const echoed = await readAll(stream);
    assert.deepEqual([echoed.length, sha256(echoed)], [payload.length, sha256(payload)]);
    await listener.close();

    assert.ok(existsSync(dataDir), 'the namespace lives in a temporary directory while the relay runs');
    await relay.stop();
    assert.equal(existsSync(dataDir), false, 'stop() removes the temporary directory it made');
    const refused = await new Promise<string>((resolve) => {
      const socket = connect(relay.port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    });
    assert.equal(refused, 'ECONNREFUSED', 'the port is free again');
  });

  it('takes a root key and a data directory of the caller, and keeps the directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hybridge-embed-'));
    try {
      const relay = await createRelayServer({ dataDir: dir, rootKey: 'embedding-test-root-key-0123' });
      assert.equal(parseConnectionString(relay.rootConnectionString).sharedAccessKey, 'embedding-test-root-key-0123');
      assert.match(relay.connectionString('x'), /;EntityPath=x$/);
      await relay.stop();
      assert.ok(existsSync(join(dir, 'namespace.json')), 'the caller\'s directory keeps the namespace');
      assert.equal(existsSync(join(dir, 'server.lock')), false, 'and is unlocked');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a connection string without EntityPath and no entity path is one clear error', () => {
    assert.throws(() => new HybridConnectionListener('Endpoint=ws://127.0.0.1:1/;SharedAccessKeyName=a;SharedAccessKey=b'), /no hybrid connection name/);
  });
});
