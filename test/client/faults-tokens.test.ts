/**
 * Token lifetime on the control channel: with 4-second SAS tokens the listener renews with
 * renewToken before each expiry and stays online (the relay never closes it with 1008); when a
 * renewal fails, the relay closes the channel with 1008, the listener reports it and reconnects.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SasKeyTokenProvider, type SecurityToken, type TokenProvider } from '../../src/client/index.js';
import { delay, waitFor } from '../helpers/async.js';
import { patternBytes } from '../helpers/data.js';
import { ROOT_KEY, ROOT_RULE, startRelay, type TestRelay } from '../helpers/relay.js';
import { assertDelivered, Cleanup, clientFor, count, listenerFor, nextConnection, recordEvents } from './fixtures.js';

/** SAS tokens that live `ttlSeconds`; calls listed in `failOn` (1-based) throw instead. */
class ShortLivedTokens implements TokenProvider {
  calls = 0;
  readonly audiences: string[] = [];
  private readonly inner: SasKeyTokenProvider;

  constructor(
    ttlSeconds: number,
    private readonly failOn: ReadonlySet<number> = new Set(),
  ) {
    this.inner = new SasKeyTokenProvider(ROOT_RULE, ROOT_KEY, ttlSeconds);
  }

  async getToken(audience: string): Promise<SecurityToken> {
    this.calls++;
    this.audiences.push(audience);
    if (this.failOn.has(this.calls)) throw new Error(`token service unavailable (call ${this.calls})`);
    return this.inner.getToken(audience);
  }
}

describe('token expiry and renewal on the control channel', () => {
  const cleanup = new Cleanup();
  let relay: TestRelay;

  before(async () => {
    relay = cleanup.add(await startRelay({ hybridConnections: ['ttl', 'ttl-fail'] }), (r) => r.stop());
  });
  after(() => cleanup.run());

  it('renews 4-second tokens and is still online, on the same control channel, after 10 s', async () => {
    const tokens = new ShortLivedTokens(4);
    const listener = cleanup.listener(listenerFor(relay, 'ttl', { connectionString: undefined, endpoint: relay.wsBase, entityPath: 'ttl', tokenProvider: tokens }));
    const events = recordEvents(listener);
    await listener.open();
    const channel = relay.server.registry.channels('ttl')[0];
    assert.ok(channel);
    const closes: number[] = [];
    channel.conn.socket.once('close', () => closes.push(Date.now()));

    await delay(10_000);
    assert.equal(listener.isOnline, true);
    assert.equal(relay.server.registry.channels('ttl')[0], channel, 'the same control channel: the relay never closed it');
    assert.deepEqual(closes, []);
    assert.equal(count(events, 'error'), 0, `no errors: ${events.map((e) => e.error?.message).join('; ')}`);
    assert.equal(count(events, 'connecting'), 0);
    assert.ok(tokens.calls >= 3, `renewed at least twice in 10 s (${tokens.calls} tokens issued)`);
    assert.ok(tokens.audiences.every((a) => a === `http://127.0.0.1/ttl/`), `audience as .NET builds it: ${tokens.audiences[0]}`);
    assert.ok(channel.grant.expiresAt * 1000 > Date.now(), 'the relay holds a renewed, unexpired grant');

    // Still serving after all those renewals.
    const sender = cleanup.stream(await clientFor(relay, 'ttl').createConnection({ retryBudgetMs: 5000 }));
    const accepted = cleanup.stream(await nextConnection(listener));
    const payload = patternBytes(300_000, 5);
    await assertDelivered(sender, accepted, payload);
  });

  it('when renewal fails the relay closes the channel with 1008; the listener reports it and reconnects', async () => {
    // Call 1 opens the channel; call 2 (the renewal) fails; later calls work again.
    const tokens = new ShortLivedTokens(4, new Set([2]));
    const listener = cleanup.listener(listenerFor(relay, 'ttl-fail', { connectionString: undefined, endpoint: relay.wsBase, entityPath: 'ttl-fail', tokenProvider: tokens, reconnectDelaysMs: [0, 200, 500] }));
    const events = recordEvents(listener);
    await listener.open();
    const first = relay.server.registry.channels('ttl-fail')[0];
    assert.ok(first);

    await waitFor(() => events.some((e) => e.event === 'error' && /1008/.test(e.error?.message ?? '')), 8000, 'the relay closes the channel with 1008');
    await waitFor(() => listener.isOnline && relay.server.registry.channels('ttl-fail')[0] !== undefined && relay.server.registry.channels('ttl-fail')[0] !== first, 5000, 'listener back online on a new channel');
    const messages = events.filter((e) => e.event === 'error').map((e) => e.error!.message);
    assert.ok(messages.some((m) => /token renewal failed: token service unavailable/.test(m)), `renewal failure reported: ${messages.join(' | ')}`);
    assert.ok(messages.some((m) => /control channel closed \(1008/.test(m)), `1008 close reported: ${messages.join(' | ')}`);
    assert.ok(count(events, 'connecting') >= 1);
    assert.equal(count(events, 'offline'), 0);
  });
});
