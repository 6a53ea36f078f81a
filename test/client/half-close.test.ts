/**
 * Half-close through the relay: end() closes only our direction. A sender that ends first still
 * receives the listener's full 1 MiB reply, and the listener sees 'end' before it replies; the
 * reverse (listener ends first, sender keeps writing) works the same way.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConnectionLostError, type HybridConnectionListener } from '../../src/client/index.js';
import { withTimeout } from '../helpers/async.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import type { TestRelay } from '../helpers/relay.js';
import { Cleanup, clientFor, digestOf, MiB, nextConnection, relayWithListener, whenClosed, writeAll } from './fixtures.js';

describe('half-close', () => {
  const cleanup = new Cleanup();
  let relay: TestRelay;
  let listener: HybridConnectionListener;

  before(async () => {
    ({ relay, listener } = await relayWithListener(cleanup, 'half'));
  });
  after(() => cleanup.run());

  it('a sender that ends first still receives the full 1 MiB reply; the listener sees end before replying', async () => {
    const request = patternBytes(MiB, 11);
    const reply = patternBytes(MiB, 12);
    const sender = cleanup.stream(await clientFor(relay, 'half').createConnection({ retryBudgetMs: 5000 }));
    const accepted = cleanup.stream(await nextConnection(listener));

    const events: string[] = [];
    const atListener = digestOf(accepted, 20_000, 'listener read').then((d) => {
      events.push('listener saw end');
      return d;
    });
    const atSender = digestOf(sender, 20_000, 'sender read');
    sender.on('data', () => {
      if (!events.includes('sender got reply bytes')) events.push('sender got reply bytes');
    });

    await writeAll(sender, request);
    events.push('sender ended');
    assert.equal(sender.writableFinished, true);
    const received = await atListener;
    assert.equal(received.length, request.length, 'request bytes at the listener');
    assert.equal(received.sha256, sha256(request), 'request SHA-256 at the listener');
    assert.equal(accepted.writable, true, "the listener's direction is still open after the sender ended");

    await writeAll(accepted, reply);
    const back = await atSender;
    assert.equal(back.length, reply.length, 'reply bytes at the sender');
    assert.equal(back.sha256, sha256(reply), 'reply SHA-256 at the sender');
    assert.deepEqual(events, ['sender ended', 'listener saw end', 'sender got reply bytes']);
    await Promise.all([whenClosed(sender), whenClosed(accepted)]);
    assert.equal(sender.closeCode, 1000);
    assert.equal(accepted.closeCode, 1000);
  });

  it('a listener that ends first still receives everything the sender writes afterwards', async () => {
    const greeting = patternBytes(64 * 1024, 21);
    const upload = patternBytes(MiB, 22);
    const sender = cleanup.stream(await clientFor(relay, 'half').createConnection({ retryBudgetMs: 5000 }));
    const accepted = cleanup.stream(await nextConnection(listener));

    const atListener = digestOf(accepted, 20_000, 'listener read');
    const atSender = digestOf(sender, 20_000, 'sender read');
    await writeAll(accepted, greeting);
    const got = await atSender;
    assert.equal(got.length, greeting.length);
    assert.equal(got.sha256, sha256(greeting));
    assert.equal(sender.readableEnded, true, "the sender saw the listener's end");

    await writeAll(sender, upload);
    const received = await atListener;
    assert.equal(received.length, upload.length, 'upload bytes at the listener');
    assert.equal(received.sha256, sha256(upload), 'upload SHA-256 at the listener');
    await Promise.all([whenClosed(sender), whenClosed(accepted)]);
  });

  it('a peer that ended cleanly and then vanishes while our direction is open is an error for us, not a silent close', async () => {
    const sender = cleanup.stream(await clientFor(relay, 'half').createConnection({ retryBudgetMs: 5000 }));
    const accepted = cleanup.stream(await nextConnection(listener));
    accepted.on('error', () => undefined);
    const failed = new Promise<Error>((resolve) => sender.once('error', resolve));
    accepted.end();
    assert.equal((await digestOf(sender)).length, 0, "the listener's direction ended cleanly");
    sender.write(patternBytes(1000, 41));
    // The listener's leg drops at the relay (its process died): our bytes can no longer arrive.
    const pair = [...relay.server.relayedConnections].find((c) => c.trackingId === sender.trackingId)?.pair;
    assert.ok(pair);
    pair.listener.destroy();
    const error = await withTimeout(failed, 5000, 'sender error');
    assert.ok(error instanceof ConnectionLostError, `got ${error.name}: ${error.message}`);
  });

  it('both directions carry 1 MiB at once and each side ends on its own', async () => {
    const up = patternBytes(MiB, 31);
    const down = patternBytes(MiB, 32);
    const sender = cleanup.stream(await clientFor(relay, 'half').createConnection({ retryBudgetMs: 5000 }));
    const accepted = cleanup.stream(await nextConnection(listener));
    const atListener = digestOf(accepted, 20_000, 'listener read');
    const atSender = digestOf(sender, 20_000, 'sender read');
    await Promise.all([writeAll(sender, up, { chunkSize: 16 * 1024 }), writeAll(accepted, down, { chunkSize: 16 * 1024 })]);
    const [l, s] = await Promise.all([atListener, atSender]);
    assert.deepEqual(l, { length: up.length, sha256: sha256(up) });
    assert.deepEqual(s, { length: down.length, sha256: sha256(down) });
  });
});
