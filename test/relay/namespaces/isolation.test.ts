/**
 * Hosted namespaces on one relay: created and deleted through the admin API, addressed by path
 * prefix and by host name, and isolated from each other (tokens, names, listeners, events, limits).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { ManagementClient } from '../../../src/client/management-client.js';
import type { RelayEvent } from '../../../src/observability/events/relay-event.js';
import { parseConnectionString } from '../../../src/protocol/connection-string.js';
import { createSasToken } from '../../../src/protocol/sas-token.js';
import { waitFor } from '../../helpers/async.js';
import { patternBytes, sha256 } from '../../helpers/data.js';
import { ROOT_KEY } from '../../helpers/relay.js';
import { acceptAndEcho, closedPromise, expectRefusal, hcUrl, nextMessage, openSender, RawListener, startEchoListener, toBuffer, WAIT_MS } from '../protocol-peers.js';
import { adminCall, createNamespace, startNamespaceRelay, type CreatedNamespace, type NamespaceRelay } from './namespace-kit.js';

function managementOf(ns: CreatedNamespace): ManagementClient {
  const cs = parseConnectionString(ns.rootConnectionString);
  return new ManagementClient({ endpoint: cs.endpoint, credential: { keyName: cs.sharedAccessKeyName!, key: cs.sharedAccessKey! } });
}

/** Sends `payload` and returns the SHA-256 of what came back. */
async function echoDigest(sender: WebSocket, payload: Buffer): Promise<string> {
  const chunks: Buffer[] = [];
  let received = 0;
  const done = new Promise<void>((resolve) => {
    sender.on('message', (data) => {
      const b = toBuffer(data);
      chunks.push(b);
      received += b.length;
      if (received >= payload.length) resolve();
    });
  });
  sender.send(payload, { binary: true });
  await waitFor(async () => (await Promise.race([done.then(() => true), new Promise((r) => setTimeout(() => r(false), 50))])) as boolean, WAIT_MS, 'echo');
  return sha256(chunks);
}

describe('hosted namespaces', () => {
  let relay: NamespaceRelay;
  const events: RelayEvent[] = [];
  let alpha: CreatedNamespace;
  let bravo: CreatedNamespace;

  before(async () => {
    relay = await startNamespaceRelay({ maxNamespaces: 4 });
    relay.server.events.subscribe((e) => events.push(e));
    alpha = await createNamespace(relay, 'alpha-ns');
    bravo = await createNamespace(relay, 'bravo-ns');
    for (const ns of [alpha, bravo]) await managementOf(ns).createHybridConnection('web', {});
  });

  after(async () => {
    await relay.stop();
  });

  it('creates a namespace with its own root connection string, addressed by the /$ns/{name} path', () => {
    assert.match(alpha.rootConnectionString, /^Endpoint=ws:\/\/127\.0\.0\.1:\d+\/\$ns\/alpha-ns\/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=/);
    assert.notEqual(alpha.rootKey, bravo.rootKey);
    assert.notEqual(alpha.rootKey, ROOT_KEY);
    assert.ok(existsSync(join(relay.dataDir, 'namespaces', 'alpha-ns', 'namespace.json')));
  });

  it('lists and shows namespaces with the admin key only', async () => {
    const list = await adminCall(relay.port, 'GET', '/namespaces');
    assert.equal(list.status, 200);
    assert.deepEqual((list.body as unknown as { name: string }[]).map((n) => n.name).sort(), ['alpha-ns', 'bravo-ns']);
    const show = await adminCall(relay.port, 'GET', '/namespaces/alpha-ns');
    assert.equal(show.body.hybridConnections, 1);
    assert.equal(show.body.rootConnectionString, undefined);
    assert.equal((await adminCall(relay.port, 'GET', '/namespaces', { key: null })).status, 401);
    assert.equal((await adminCall(relay.port, 'GET', '/namespaces', { key: 'wrong-admin-key-0123456789' })).status, 401);
    // A namespace's root key is no admin key, and the admin key is no namespace key.
    assert.equal((await adminCall(relay.port, 'GET', '/namespaces', { key: alpha.rootKey })).status, 401);
    assert.equal((await adminCall(relay.port, 'GET', '/namespaces', { key: ROOT_KEY })).status, 401);
    const asKey = createSasToken(`http://127.0.0.1:${relay.port}/$ns/alpha-ns/web`, 'RootManageSharedAccessKey', 'test-admin-key-0123456789abcdef', Math.floor(Date.now() / 1000) + 600);
    assert.equal((await expectRefusal(hcUrl(alpha.address, 'web', 'listen'), { ServiceBusAuthorization: asKey })).status, 401);
  });

  it('refuses bad names (400), taken names (409) and namespaces over the cap (409 QuotaExceeded)', async () => {
    for (const bad of ['short', '1starts-with-digit', 'ends-with-hyphen-', 'has_underscore', 'x'.repeat(51)]) {
      const answer = await adminCall(relay.port, 'PUT', `/namespaces/${bad}`, { body: {} });
      assert.equal(answer.status, 400, bad);
      assert.match(String((answer.body.error as { message: string }).message), /not a valid namespace name/);
    }
    assert.equal((await adminCall(relay.port, 'PUT', '/namespaces/alpha-ns', { body: {} })).status, 409);
    assert.equal((await adminCall(relay.port, 'PUT', '/namespaces/charlie-ns', { body: { limits: { maxListenersPerHyco: 0 } } })).status, 400);
    await createNamespace(relay, 'charlie-ns');
    await createNamespace(relay, 'delta-ns');
    const full = await adminCall(relay.port, 'PUT', '/namespaces/echo-ns', { body: {} });
    assert.equal(full.status, 409);
    assert.match(String((full.body.error as { message: string }).message), /QuotaExceeded: this relay already hosts its maximum of 4 namespaces/);
    for (const name of ['charlie-ns', 'delta-ns']) assert.equal((await adminCall(relay.port, 'DELETE', `/namespaces/${name}`)).status, 200);
  });

  it('keeps the same hybrid connection name in two namespaces apart: own listeners, own bytes', async () => {
    const inAlpha = await startEchoListener(alpha.address, 'web', { prefix: 'alpha:' });
    const inBravo = await startEchoListener(bravo.address, 'web', { prefix: 'bravo:' });
    try {
      const toAlpha = await openSender(alpha.address, 'web');
      const toBravo = await openSender(bravo.address, 'web');
      toAlpha.send('hello');
      toBravo.send('hello');
      assert.equal((await nextMessage(toAlpha)).data.toString(), 'alpha:hello');
      assert.equal((await nextMessage(toBravo)).data.toString(), 'bravo:hello');
      const a = patternBytes(300_000, 11);
      const b = patternBytes(200_000, 12);
      assert.equal(await echoDigest(toAlpha, a), sha256(a));
      assert.equal(await echoDigest(toBravo, b), sha256(b));
      assert.equal(inAlpha.accepts.length, 1);
      assert.equal(inBravo.accepts.length, 1);
      // The rendezvous address carries the namespace.
      assert.match(inAlpha.accepts[0]!.address, /^ws:\/\/127\.0\.0\.1:\d+\/\$ns\/alpha-ns\/\$hc\/web\?/);
      // Each namespace counts its own listeners, and the default namespace sees none of them.
      const view = (await managementOf(bravo).getHybridConnection('web')) as { listenerCount: number };
      assert.equal(view.listenerCount, 1);
      assert.equal(relay.server.directory.localChannels().length, 0);
      toAlpha.close();
      toBravo.close();
    } finally {
      await inAlpha.close();
      await inBravo.close();
    }
    // The default namespace has no "web": names do not leak across.
    assert.equal((await expectRefusal(hcUrl(relay, 'web', 'listen'), { ServiceBusAuthorization: relay.token('web') })).status, 404);
    const seen = events.filter((e) => e.event === 'NewListenerRegistered');
    assert.deepEqual(seen.map((e) => e.namespace).sort(), ['alpha-ns', 'bravo-ns']);
  });

  it('never takes a token of one namespace in another, even with the same rule name and key', async () => {
    const alphaToken = alpha.address.token('web');
    assert.equal((await expectRefusal(hcUrl(bravo.address, 'web', 'listen'), { ServiceBusAuthorization: alphaToken })).status, 401);
    // Give bravo's root rule alpha's key: the audience still says alpha.
    await managementOf(bravo).renewKey(undefined, 'RootManageSharedAccessKey', 'PrimaryKey', alpha.rootKey);
    const refusal = await expectRefusal(hcUrl(bravo.address, 'web', 'listen'), { ServiceBusAuthorization: alphaToken });
    assert.equal(refusal.status, 401);
    assert.match(refusal.message + refusal.body, /InvalidAudience/);
    await managementOf({ ...bravo, rootConnectionString: bravo.rootConnectionString.replace(bravo.rootKey, alpha.rootKey) }).renewKey(undefined, 'RootManageSharedAccessKey', 'PrimaryKey', bravo.rootKey);
    // A default-namespace token (no namespace in its audience) opens no hosted namespace either.
    assert.equal((await expectRefusal(hcUrl(alpha.address, 'web', 'listen'), { ServiceBusAuthorization: relay.token('web', { key: alpha.rootKey }) })).status, 401);
  });

  it('holds a namespace to its own connection limit without refusing another namespace', async () => {
    const small = await createNamespace(relay, 'small-ns', { maxConnections: 3 });
    await managementOf(small).createHybridConnection('web', {});
    const held: RawListener[] = [];
    try {
      for (let i = 0; i < 3; i++) held.push(await RawListener.open(small.address, 'web'));
      const refusal = await expectRefusal(hcUrl(small.address, 'web', 'listen'), { ServiceBusAuthorization: small.address.token('web') });
      assert.equal(refusal.status, 503);
      assert.match(refusal.message + refusal.body, /QuotaExceeded: the namespace has its maximum of 3 connections/);
      // Bravo is not affected by small-ns being full.
      const inBravo = await startEchoListener(bravo.address, 'web');
      const sender = await openSender(bravo.address, 'web');
      const payload = patternBytes(50_000, 3);
      assert.equal(await echoDigest(sender, payload), sha256(payload));
      sender.close();
      await inBravo.close();
    } finally {
      for (const l of held) await l.close();
      await adminCall(relay.port, 'DELETE', '/namespaces/small-ns');
    }
  });

  it('deletes a namespace: its listeners and senders are cut at once, its data removed, the others untouched', async () => {
    const doomed = await createNamespace(relay, 'doomed-ns');
    await managementOf(doomed).createHybridConnection('web', {});
    const listener = await RawListener.open(doomed.address, 'web', { onAccept: (accept, l) => acceptAndEcho(accept, l) });
    const sender = await openSender(doomed.address, 'web');
    sender.send('ping');
    assert.equal((await nextMessage(sender)).data.toString(), 'ping');
    const senderClosed = closedPromise(sender);
    const inBravo = await startEchoListener(bravo.address, 'web');
    const bravoSender = await openSender(bravo.address, 'web');
    try {
      const started = Date.now();
      const answer = await adminCall(relay.port, 'DELETE', '/namespaces/doomed-ns');
      assert.equal(answer.status, 200);
      assert.equal(answer.body.closedConnections, 2);
      const closed = await listener.waitClosed();
      assert.deepEqual(closed, { code: 1001, reason: 'namespace deleted' });
      assert.equal((await senderClosed).code, 1001);
      assert.ok(Date.now() - started < WAIT_MS);
      assert.equal(existsSync(join(relay.dataDir, 'namespaces', 'doomed-ns')), false);
      assert.equal((await expectRefusal(hcUrl(doomed.address, 'web', 'listen'), { ServiceBusAuthorization: doomed.address.token('web') })).status, 404);
      assert.equal((await adminCall(relay.port, 'DELETE', '/namespaces/doomed-ns')).status, 404);
      // Bravo's live connection still carries bytes.
      const payload = patternBytes(80_000, 5);
      assert.equal(await echoDigest(bravoSender, payload), sha256(payload));
      assert.equal(inBravo.isOpen, true);
    } finally {
      bravoSender.close();
      await inBravo.close();
      listener.terminate();
    }
  });
});

describe('hosted namespaces by host name', () => {
  let relay: NamespaceRelay;
  let tenant: CreatedNamespace;

  before(async () => {
    relay = await startNamespaceRelay({ namespaceDomain: 'relay.test' });
    tenant = await createNamespace(relay, 'tenant-one');
    await managementOf({ ...tenant, rootConnectionString: tenant.rootConnectionString.replace(/ws:\/\/tenant-one\.relay\.test:\d+\//, `ws://127.0.0.1:${relay.port}/$ns/tenant-one/`) }).createHybridConnection('web', {});
  });

  after(async () => {
    await relay.stop();
  });

  it('gives {ns}.{domain} connection strings and serves the namespace by Host header, rendezvous included', async () => {
    assert.match(tenant.rootConnectionString, new RegExp(`^Endpoint=ws://tenant-one\\.relay\\.test:${relay.port}/;`));
    const hostHeader = `tenant-one.relay.test:${relay.port}`;
    const token = createSasToken(`http://tenant-one.relay.test/web`, 'RootManageSharedAccessKey', tenant.rootKey, Math.floor(Date.now() / 1000) + 600);
    const byHost = { port: relay.port, wsBase: relay.wsBase, httpBase: relay.httpBase, token: () => token };
    const listener = await RawListener.open(byHost, 'web', {
      headers: { Host: hostHeader },
      onAccept: (accept, l) => {
        // No DNS here: dial 127.0.0.1 with the Host header the address names.
        const url = new URL(accept.address);
        const ws = new WebSocket(`ws://127.0.0.1:${relay.port}${url.pathname}${url.search}`, { headers: { Host: url.host }, perMessageDeflate: false });
        ws.on('message', (data, isBinary) => ws.send(toBuffer(data), { binary: isBinary }));
        ws.on('error', () => undefined);
        l.rendezvous.push(ws);
      },
    });
    try {
      const sender = await openSender(byHost, 'web', { headers: { Host: hostHeader } });
      const payload = patternBytes(120_000, 9);
      assert.equal(await echoDigest(sender, payload), sha256(payload));
      assert.match(listener.accepts[0]!.address, new RegExp(`^ws://tenant-one\\.relay\\.test:${relay.port}/\\$hc/web\\?`));
      sender.close();
      // The same hybrid connection on the relay's own host is the default namespace's: there is none.
      assert.equal((await expectRefusal(hcUrl(relay, 'web', 'listen'), { ServiceBusAuthorization: relay.token('web') })).status, 404);
      // An unknown namespace under the domain is refused as such.
      const unknown = await expectRefusal(hcUrl(relay, 'web', 'listen'), { Host: `nobody-here.relay.test:${relay.port}`, ServiceBusAuthorization: token });
      assert.equal(unknown.status, 404);
      assert.match(unknown.message + unknown.body, /NamespaceNotFound/);
    } finally {
      await listener.close();
    }
  });
});
