/**
 * Errors a user can cause or meet: wrong credentials (401 on open(); a sender's 401/403 comes back
 * at once, not after the retry budget), a deleted hybrid connection (the listener goes offline
 * with EndpointNotFoundError and stops; senders get EndpointNotFoundError), and the sender's
 * retry budget (a listener that comes up in time is reached; nobody at all is a clear error).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AuthorizationFailedError, EndpointNotFoundError, HybridConnectionClient, HybridConnectionListener, RelayError } from '../../src/client/index.js';
import { delay, waitFor } from '../helpers/async.js';
import { patternBytes } from '../helpers/data.js';
import { ROOT_RULE, startRelay, type TestRelay } from '../helpers/relay.js';
import { assertDelivered, Cleanup, clientFor, count, listenerFor, nextConnection, recordEvents } from './fixtures.js';

async function failure(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => assert.fail('expected a failure'),
    (err: Error) => err,
  );
}

describe('credential, entity and availability errors', () => {
  const cleanup = new Cleanup();
  let relay: TestRelay;

  before(async () => {
    relay = cleanup.add(await startRelay({ hybridConnections: ['errs', 'doomed', 'late', 'late2', 'empty'] }), (r) => r.stop());
  });
  after(() => cleanup.run());

  it('a listener with a wrong key fails open() with AuthorizationFailedError 401', async () => {
    const listener = new HybridConnectionListener({ endpoint: relay.wsBase, entityPath: 'errs', keyName: ROOT_RULE, key: 'not-the-key' });
    const error = await failure(listener.open());
    assert.ok(error instanceof AuthorizationFailedError, `got ${String(error)}`);
    assert.equal(error.statusCode, 401);
    assert.match(error.message, /authorization failed \(401/);
    assert.doesNotMatch(error.message, /not-the-key/, 'the key is not in the message');
    assert.equal(listener.isOnline, false);
  });

  it('a sender with a wrong key gets AuthorizationFailedError 401 at once, without using its retry budget', async () => {
    const client = new HybridConnectionClient({ endpoint: relay.wsBase, entityPath: 'errs', keyName: ROOT_RULE, key: 'not-the-key' });
    const started = Date.now();
    const error = await failure(client.createConnection());
    assert.ok(error instanceof AuthorizationFailedError, `got ${String(error)}`);
    assert.equal(error.statusCode, 401);
    assert.equal(error.transient, false);
    assert.ok(Date.now() - started < 2000, `answered in ${Date.now() - started} ms (default budget is 30 s)`);
  });

  it('a sender whose rule lacks Send gets 403 at once; the same rule can listen', async () => {
    const rule = await relay.server.store.putRule('errs', 'listenOnly', ['Listen']);
    const options = { endpoint: relay.wsBase, entityPath: 'errs', keyName: 'listenOnly', key: rule.primaryKey };
    const listener = cleanup.listener(new HybridConnectionListener(options));
    await listener.open();
    const started = Date.now();
    const error = await failure(new HybridConnectionClient(options).createConnection());
    assert.ok(error instanceof AuthorizationFailedError, `got ${String(error)}`);
    assert.equal(error.statusCode, 403);
    assert.ok(Date.now() - started < 2000);
  });

  it('deleting the hybrid connection takes the listener offline with EndpointNotFoundError for good; senders get EndpointNotFoundError', async () => {
    const listener = cleanup.listener(listenerFor(relay, 'doomed', { reconnectDelaysMs: [0, 100] }));
    const events = recordEvents(listener);
    await listener.open();
    await relay.server.store.deleteHybridConnection('doomed');

    await waitFor(() => count(events, 'offline') === 1, 5000, 'listener offline');
    const offline = events.find((e) => e.event === 'offline')!;
    assert.ok(offline.error instanceof EndpointNotFoundError, `offline with ${String(offline.error)}`);
    assert.equal(listener.isOnline, false);
    const connectingBefore = count(events, 'connecting');
    await delay(600);
    assert.equal(count(events, 'connecting'), connectingBefore, 'it stopped reconnecting');

    const started = Date.now();
    const error = await failure(clientFor(relay, 'doomed').createConnection());
    assert.ok(error instanceof EndpointNotFoundError, `got ${String(error)}`);
    assert.equal(error.statusCode, 404);
    assert.equal(error.transient, false, 'an entity that does not exist is not worth retrying');
    assert.ok(Date.now() - started < 2000);

    const again = await failure(listenerFor(relay, 'doomed').open());
    assert.ok(again instanceof EndpointNotFoundError, `open() on a missing hybrid connection: ${String(again)}`);
  });

  it('a sender that starts before the listener gets through once the listener comes up within the budget', async () => {
    const client = clientFor(relay, 'late');
    const started = Date.now();
    const connecting = client.createConnection({ retryBudgetMs: 10_000 });
    await delay(1200);
    const listener = cleanup.listener(listenerFor(relay, 'late'));
    await listener.open();
    const sender = cleanup.stream(await connecting);
    assert.ok(Date.now() - started >= 1200);
    const accepted = cleanup.stream(await nextConnection(listener));
    const payload = patternBytes(500_000, 8);
    await assertDelivered(sender, accepted, payload);
  });

  it('a listener that comes up late in the budget (at 1.05 s of 1.5 s) is still reached', async () => {
    const client = clientFor(relay, 'late2');
    const connecting = client.createConnection({ retryBudgetMs: 1500 });
    await delay(1050);
    const listener = cleanup.listener(listenerFor(relay, 'late2'));
    await listener.open();
    const sender = cleanup.stream(await connecting);
    const accepted = cleanup.stream(await nextConnection(listener));
    await sender.sendMessage('made it');
    assert.equal((await accepted.readMessage(5000))?.data.toString('utf8'), 'made it');
  });

  it('a sender fails with a clear error when nobody listens within retryBudgetMs', async () => {
    const started = Date.now();
    const error = await failure(clientFor(relay, 'empty').createConnection({ retryBudgetMs: 1500 }));
    const elapsed = Date.now() - started;
    assert.ok(error instanceof RelayError, `got ${String(error)}`);
    assert.match(error.message, /empty/);
    assert.match(error.message, /no listener/i);
    assert.ok(elapsed >= 1400 && elapsed < 4000, `gave up after ${elapsed} ms of a 1500 ms budget`);
  });
});
