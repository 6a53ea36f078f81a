/**
 * The hosted-namespace catalog on disk: a store still holding a namespace that was deleted
 * cannot write it back (its directory would come back, and with it the namespace at the next
 * start), and the name can be created again.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { emptyNamespace } from '../../../src/relay/namespace-model.js';
import { NamespaceStore, StoreError } from '../../../src/relay/namespace-store.js';
import { FileNamespaceCatalog } from '../../../src/relay/namespaces/file-catalog.js';

describe('hosted namespaces on disk', () => {
  const root = mkdtempSync(join(tmpdir(), 'hybridge-file-catalog-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  test('a store of a deleted namespace cannot bring it back', async () => {
    const catalog = new FileNamespaceCatalog(join(root, 'namespaces'));
    assert.equal(await catalog.create('gone-ns', emptyNamespace(), 10), true);
    const store = new NamespaceStore(catalog.backendFor('gone-ns'));
    await store.open(() => {
      throw new Error('no document');
    });
    assert.equal(await catalog.remove('gone-ns'), true);
    await assert.rejects(store.createHybridConnection('late', {}), (err: Error) => err instanceof StoreError && err.status === 404 && /deleted/.test(err.message));
    assert.equal(existsSync(join(root, 'namespaces', 'gone-ns')), false, 'no directory came back');
    assert.deepEqual(await catalog.list(), []);
    assert.equal(await catalog.create('gone-ns', emptyNamespace(), 10), true, 'the name can be used again');
  });
});
