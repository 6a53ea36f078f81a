/**
 * The listener's accept handler: it sees the sender's headers, path suffix and query before any
 * byte flows, and can reject with a status and description that the sender gets as a clear
 * error. A throwing handler rejects with 502 and .NET's text; sub-protocols settle on the first
 * one offered.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { AuthorizationFailedError, RelayHandshakeError, type AcceptContext, type AcceptDecision, type HybridConnectionListener } from '../../src/client/index.js';
import { delay } from '../helpers/async.js';
import { patternBytes } from '../helpers/data.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { assertDelivered, Cleanup, clientFor, listenerFor, nextConnection } from './fixtures.js';

const DOTNET_THREW = "The Listener's custom AcceptHandler threw an exception. See Listener logs for details.";

function header(headers: Record<string, string>, name: string): string | undefined {
  return Object.entries(headers).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
}

describe('accept handler', () => {
  const cleanup = new Cleanup();
  let relay: TestRelay;
  let listener: HybridConnectionListener;
  const seen: AcceptContext[] = [];
  const listenerErrors: Error[] = [];
  let decide: (context: AcceptContext) => AcceptDecision | Promise<AcceptDecision> = () => true;

  before(async () => {
    relay = cleanup.add(await startRelay({ hybridConnections: ['gate'] }), (r) => r.stop());
    listener = cleanup.listener(
      listenerFor(relay, 'gate', {
        acceptHandler: (context) => {
          seen.push(context);
          return decide(context);
        },
      }),
    );
    listener.on('error', (err) => listenerErrors.push(err));
    await listener.open();
  });
  beforeEach(() => {
    seen.length = 0;
    listenerErrors.length = 0;
    decide = () => true;
  });
  after(() => cleanup.run());

  it('sees connectHeaders (custom header, Sec-WebSocket-Key), the path suffix and the query', async () => {
    const sender = cleanup.stream(
      await clientFor(relay, 'gate').createConnection({
        headers: { 'X-Tenant': 'contoso', 'X-Trace': 'abc-123' },
        pathSuffix: 'devices/42',
        query: 'mode=fast&n=1',
        retryBudgetMs: 5000,
      }),
    );
    const accepted = cleanup.stream(await nextConnection(listener));
    assert.equal(seen.length, 1);
    const context = seen[0]!;
    assert.equal(header(context.connectHeaders, 'X-Tenant'), 'contoso');
    assert.equal(header(context.connectHeaders, 'X-Trace'), 'abc-123');
    assert.match(header(context.connectHeaders, 'Sec-WebSocket-Key') ?? '', /^[A-Za-z0-9+/]{22}==$/);
    assert.equal(header(context.connectHeaders, 'ServiceBusAuthorization'), undefined, 'the sender token is not shown to the listener');
    assert.equal(context.pathSuffix, 'devices/42');
    assert.equal(context.query, 'mode=fast&n=1');
    assert.equal(context.trackingId, sender.trackingId);
    assert.equal(accepted.info.pathSuffix, 'devices/42');
    assert.equal(accepted.info.query, 'mode=fast&n=1');
    assert.equal(accepted.trackingId, sender.trackingId);

    const payload = patternBytes(200_000, 7);
    await assertDelivered(sender, accepted, payload);
  });

  it('a rejection with 403 "nope" reaches the sender as AuthorizationFailedError(403, "nope") at once, and no connection is delivered', async () => {
    decide = () => ({ statusCode: 403, statusDescription: 'nope' });
    let delivered = 0;
    const count = () => delivered++;
    listener.on('connection', count);
    try {
      const started = Date.now();
      const error = await clientFor(relay, 'gate')
        .createConnection({ retryBudgetMs: 10_000 })
        .then(
          () => undefined,
          (err: Error) => err,
        );
      assert.ok(error instanceof AuthorizationFailedError, `got ${String(error)}`);
      assert.ok(error instanceof RelayHandshakeError);
      assert.equal(error.statusCode, 403);
      assert.equal(error.statusDescription, 'nope');
      assert.match(error.message, /403/);
      assert.match(error.message, /nope/);
      assert.ok(Date.now() - started < 3000, 'a rejection is not retried');
      assert.equal(seen.length, 1, 'the handler ran once');
      await delay(100);
      assert.equal(delivered, 0);
    } finally {
      listener.off('connection', count);
    }
  });

  it('a rejection with another status keeps its code and description (409, spaces and punctuation)', async () => {
    decide = async () => {
      await delay(50);
      return { statusCode: 409, statusDescription: 'Busy: try again & later' };
    };
    const error = await clientFor(relay, 'gate').createConnection({ retryBudgetMs: 0 }).catch((err: Error) => err);
    assert.ok(error instanceof RelayHandshakeError, `got ${String(error)}`);
    assert.equal(error.statusCode, 409);
    assert.equal(error.statusDescription, 'Busy: try again & later');
  });

  it('returning false rejects with 400', async () => {
    decide = () => false;
    const error = await clientFor(relay, 'gate').createConnection({ retryBudgetMs: 0 }).catch((err: Error) => err);
    assert.ok(error instanceof RelayHandshakeError, `got ${String(error)}`);
    assert.equal(error.statusCode, 400);
  });

  it("a throwing handler rejects with 502 and .NET's text, and the listener reports the exception", async () => {
    decide = () => {
      throw new Error('handler bug');
    };
    const error = await clientFor(relay, 'gate').createConnection({ retryBudgetMs: 0 }).catch((err: Error) => err);
    assert.ok(error instanceof RelayHandshakeError, `got ${String(error)}`);
    assert.equal(error.statusCode, 502);
    assert.equal(error.statusDescription, DOTNET_THREW);
    assert.ok(listenerErrors.some((e) => e.message === 'handler bug'));
  });

  it('sub-protocols settle on the first one offered, on both ends', async () => {
    const sender = cleanup.stream(await clientFor(relay, 'gate').createConnection({ protocols: ['v2.relay', 'v1.relay'], retryBudgetMs: 5000 }));
    const acceptedStream = cleanup.stream(await nextConnection(listener));
    assert.equal(header(seen[0]!.connectHeaders, 'Sec-WebSocket-Protocol'), 'v2.relay, v1.relay');
    assert.equal(sender.info.protocol, 'v2.relay');
    assert.equal(acceptedStream.info.protocol, 'v2.relay');
  });

  it('an accept handler that takes its time (300 ms) still lets the connection through', async () => {
    decide = async () => {
      await delay(300);
      return true;
    };
    const sender = cleanup.stream(await clientFor(relay, 'gate').createConnection({ retryBudgetMs: 5000 }));
    const accepted = cleanup.stream(await nextConnection(listener));
    await sender.sendMessage('after a slow accept');
    const message = await accepted.readMessage(5000);
    assert.equal(message?.data.toString('utf8'), 'after a slow accept');
  });
});
