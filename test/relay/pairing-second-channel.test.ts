/**
 * A listener that opens a second control channel while its first one holds work it has not
 * answered (after a network cut the first one's commands wait behind TCP's retransmission
 * back-off): the relay moves the waiting senders to the new channel at once, not after the
 * hand-off time, and passes the old one over for new work. A new channel of another listener
 * does not take work from a listener that merely looks slow.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { HybridConnectionClient, HybridConnectionListener } from '../../src/client/index.js';
import { openWebSocket } from '../../src/websocket/client-handshake.js';
import { WsConnection } from '../../src/websocket/connection.js';
import { delay } from '../helpers/async.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';

/** A control channel that stays open but never takes an accept (a channel stuck in a cut); counts the offers. */
async function stuckChannel(relay: TestRelay, hyco: string, id: string): Promise<{ conn: WsConnection; offers: () => number }> {
  const opened = await openWebSocket(`${relay.wsBase}/$hc/${hyco}?sb-hc-action=listen&sb-hc-id=${id}`, { headers: { ServiceBusAuthorization: relay.token(hyco) }, timeoutMs: 5000 });
  let offers = 0;
  const conn = new WsConnection(opened.socket, { role: 'client', autoCloseReply: true });
  conn.attach({ onMessageData: () => undefined, onMessageEnd: () => offers++ }, opened.head);
  return { conn, offers: () => offers };
}

async function echoed(client: HybridConnectionClient, seed: number): Promise<void> {
  const stream = await client.createConnection({ retryBudgetMs: 0 });
  const payload = patternBytes(16 * 1024, seed);
  stream.end(payload);
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  assert.equal(sha256(Buffer.concat(chunks)), sha256(payload));
}

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !condition(); ) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await delay(10);
  }
}

describe('a listener that opens a second control channel beside a stuck one', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('gets the senders waiting on the stuck one at once, and the stuck one gets no new work', async () => {
    const relay = await startRelay({ hybridConnections: ['second'], handoffMs: 20_000, acceptTimeoutMs: 30_000 });
    cleanups.push(() => relay.stop());
    const stuck = await stuckChannel(relay, 'second', 'same-listener');
    cleanups.push(() => stuck.conn.destroy());
    const client = new HybridConnectionClient({ connectionString: relay.connectionString('second') });
    const waiting = echoed(client, 1);
    await until(() => stuck.offers() === 1, 5000);

    const started = Date.now();
    const fresh = new HybridConnectionListener({ connectionString: relay.connectionString('second'), listenerId: 'same-listener' });
    fresh.on('connection', (s) => s.pipe(s));
    cleanups.push(() => fresh.close());
    await fresh.open();
    await waiting;
    const movedMs = Date.now() - started;
    assert.ok(movedMs < 5000, `the waiting sender was paired ${movedMs} ms after the second channel opened (hand-off time 20 s)`);
    for (let i = 0; i < 6; i++) await echoed(client, 10 + i);
    assert.equal(stuck.offers(), 1, 'round robin would have offered the stuck channel 3 of the 6 new connections');
  });

  it('leaves the work where it is when the new channel belongs to another listener', async () => {
    const relay = await startRelay({ hybridConnections: ['other'], handoffMs: 1500, acceptTimeoutMs: 30_000 });
    cleanups.push(() => relay.stop());
    const slow = await stuckChannel(relay, 'other', 'listener-a');
    cleanups.push(() => slow.conn.destroy());
    const client = new HybridConnectionClient({ connectionString: relay.connectionString('other') });
    const startedAt = Date.now();
    const waiting = echoed(client, 2);
    await until(() => slow.offers() === 1, 5000);
    const other = new HybridConnectionListener({ connectionString: relay.connectionString('other'), listenerId: 'listener-b' });
    other.on('connection', (s) => s.pipe(s));
    cleanups.push(() => other.close());
    await other.open();
    await waiting;
    const waitedMs = Date.now() - startedAt;
    assert.ok(waitedMs >= 1400, `the sender waited for the hand-off (${waitedMs} ms), it was not moved when another listener came`);
  });
});
