/**
 * The default namespace is the relay every single-namespace set-up has: a data directory written
 * by the code before hosted namespaces existed loads unchanged, with the same URLs and keys.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { patternBytes } from '../../helpers/data.js';
import { ROOT_KEY, ROOT_RULE, startRelay, type TestRelay } from '../../helpers/relay.js';
import { assertBinaryEcho, openSender, startEchoListener } from '../protocol-peers.js';

/** namespace.json exactly as the single-namespace relay wrote it (formatVersion 1, two-space JSON). */
const LEGACY_DOCUMENT = {
  formatVersion: 1,
  createdAt: '2026-11-01T10:00:00.000Z',
  authorizationRules: [
    { keyName: ROOT_RULE, primaryKey: ROOT_KEY, secondaryKey: 'legacy-secondary-key-0123456789', rights: ['Listen', 'Send', 'Manage'], createdAt: '2026-11-01T10:00:00.000Z', modifiedAt: '2026-11-01T10:00:00.000Z' },
  ],
  hybridConnections: [
    {
      name: 'legacy',
      requiresClientAuthorization: true,
      userMetadata: 'from before namespaces',
      createdAt: '2026-11-01T10:00:00.000Z',
      updatedAt: '2026-11-01T10:00:00.000Z',
      authorizationRules: [{ keyName: 'sendonly', primaryKey: 'legacy-send-key-0123456789abcdef', secondaryKey: 'legacy-send-key2-0123456789abcdef', rights: ['Send'], createdAt: '2026-11-01T10:00:00.000Z', modifiedAt: '2026-11-01T10:00:00.000Z' }],
    },
  ],
};

describe('the default namespace', () => {
  let dataDir: string;
  let relay: TestRelay;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'hybridge-ns-legacy-'));
    writeFileSync(join(dataDir, 'namespace.json'), JSON.stringify(LEGACY_DOCUMENT, null, 2) + '\n', { mode: 0o600 });
    relay = await startRelay({ dataDir, rootKey: 'another-root-key-that-is-ignored' });
  });

  after(async () => {
    await relay.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('loads a data directory written before hosted namespaces, with its hybrid connections, rules and keys', async () => {
    const ns = relay.server.defaultNamespace;
    assert.equal(ns.name, '');
    assert.equal(relay.server.namespaces.size, 1);
    assert.equal(ns.store.getHybridConnection('legacy')?.userMetadata, 'from before namespaces');
    assert.equal(ns.store.rules('legacy')[0]?.keyName, 'sendonly');
    const listener = await startEchoListener(relay, 'legacy');
    try {
      const sender = await openSender(relay, 'legacy', { token: relay.token('legacy', { keyName: 'sendonly', key: 'legacy-send-key-0123456789abcdef' }) });
      await assertBinaryEcho(sender, patternBytes(100_000, 7));
      sender.close();
    } finally {
      await listener.close();
    }
    // Opening it changed nothing on disk: the document is still the one the old relay wrote.
    assert.deepEqual(JSON.parse(readFileSync(join(dataDir, 'namespace.json'), 'utf8')), LEGACY_DOCUMENT);
  });
});
