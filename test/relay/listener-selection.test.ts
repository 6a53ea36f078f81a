/**
 * Listener selection as a policy (issue 13): round robin over listeners that are open, not
 * write-blocked and not recently silent; strained ones only when no other can take the work;
 * over-budget ones never. A listener that leaves a sender waiting past the hand-off is demoted, not
 * offered every Nth connection.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HybridConnectionClient, HybridConnectionListener } from '../../src/client/index.js';
import { Eligibility, eligibilityOf, pickRoundRobin } from '../../src/relay/listener-selection.js';
import { openWebSocket } from '../../src/websocket/client-handshake.js';
import { WsConnection } from '../../src/websocket/connection.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';

describe('listener selection policy', () => {
  const ready = { open: true, writeBlocked: false, overBudget: false, silentUntil: 0 };

  it('sorts listeners into ready, strained and excluded', () => {
    const now = 1_000_000;
    assert.equal(eligibilityOf(ready, now), Eligibility.Ready);
    assert.equal(eligibilityOf({ ...ready, writeBlocked: true }, now), Eligibility.Strained);
    assert.equal(eligibilityOf({ ...ready, silentUntil: now + 1 }, now), Eligibility.Strained);
    assert.equal(eligibilityOf({ ...ready, silentUntil: now - 1 }, now), Eligibility.Ready, 'the demotion ends');
    assert.equal(eligibilityOf({ ...ready, overBudget: true }, now), Eligibility.Excluded);
    assert.equal(eligibilityOf({ ...ready, open: false }, now), Eligibility.Excluded);
  });

  it('goes round robin over the ready ones, falls back to the first strained one, never to an excluded one', () => {
    const tiers = (list: Eligibility[]) => (start: number) => pickRoundRobin(list, start, (e) => e);
    const rr = tiers([Eligibility.Ready, Eligibility.Strained, Eligibility.Ready, Eligibility.Excluded]);
    assert.deepEqual([0, 1, 2, 3].map(rr), [0, 2, 2, 0]);
    const fallback = tiers([Eligibility.Excluded, Eligibility.Strained, Eligibility.Strained]);
    assert.deepEqual([0, 1, 2].map(fallback), [1, 1, 2]);
    assert.equal(tiers([Eligibility.Excluded, Eligibility.Excluded])(0), -1);
    assert.equal(tiers([])(0), -1);
  });
});

describe('a silent listener in a pool', () => {
  let relay: TestRelay;
  let silent: WsConnection;
  let healthy: HybridConnectionListener;
  let offersToSilent = 0;

  before(async () => {
    relay = await startRelay({ hybridConnections: ['pool'], handoffMs: 300, acceptTimeoutMs: 10_000 });
    const opened = await openWebSocket(`${relay.wsBase}/$hc/pool?sb-hc-action=listen&sb-hc-id=silent`, { headers: { ServiceBusAuthorization: relay.token('pool') }, timeoutMs: 5000 });
    silent = new WsConnection(opened.socket, { role: 'client', autoCloseReply: true });
    silent.attach({ onMessageData: () => undefined, onMessageEnd: () => offersToSilent++ }, opened.head);
    healthy = new HybridConnectionListener({ connectionString: relay.connectionString('pool') });
    healthy.on('connection', (s) => s.pipe(s));
    await healthy.open();
  });
  after(async () => {
    silent.destroy();
    await healthy.close();
    await relay.stop();
  });

  it('is offered one connection, then none while another listener answers', async () => {
    const client = new HybridConnectionClient({ connectionString: relay.connectionString('pool') });
    for (let i = 0; i < 10; i++) {
      const stream = await client.createConnection({ retryBudgetMs: 0 });
      const payload = patternBytes(4096, i + 1);
      stream.end(payload);
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      assert.equal(sha256(Buffer.concat(chunks)), sha256(payload));
    }
    // Round robin would have offered it every other connection (5 of 10).
    assert.equal(offersToSilent, 1, `offers to the silent listener: ${offersToSilent}`);
  });
});
