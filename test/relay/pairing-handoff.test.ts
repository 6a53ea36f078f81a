import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HybridConnectionClient, HybridConnectionListener } from '../../src/client/index.js';
import { openWebSocket } from '../../src/websocket/client-handshake.js';
import { WsConnection } from '../../src/websocket/connection.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';

describe('a listener that stays silent', () => {
  let relay: TestRelay;
  let silent: WsConnection;
  let healthy: HybridConnectionListener;
  let offersToSilent = 0;

  before(async () => {
    relay = await startRelay({ hybridConnections: ['frozen'], handoffMs: 300, acceptTimeoutMs: 10_000 });
    // Stands in for a frozen host: its control channel stays open, but it never takes an accept.
    const opened = await openWebSocket(`${relay.wsBase}/$hc/frozen?sb-hc-action=listen&sb-hc-id=silent`, {
      headers: { ServiceBusAuthorization: relay.token('frozen') },
      timeoutMs: 5000,
    });
    silent = new WsConnection(opened.socket, { role: 'client', autoCloseReply: true });
    silent.attach({ onMessageData: () => undefined, onMessageEnd: () => offersToSilent++ }, opened.head);
    healthy = new HybridConnectionListener({ connectionString: relay.connectionString('frozen') });
    healthy.on('connection', (s) => s.pipe(s));
    await healthy.open();
  });

  after(async () => {
    silent.destroy();
    await healthy.close();
    await relay.stop();
  });

  it('does not hold senders until the accept timeout: they are offered to another listener', async () => {
    const client = new HybridConnectionClient({ connectionString: relay.connectionString('frozen') });
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const stream = await client.createConnection({ retryBudgetMs: 0 });
        const payload = patternBytes(64 * 1024, i + 1);
        stream.end(payload);
        const chunks: Buffer[] = [];
        for await (const chunk of stream) chunks.push(chunk as Buffer);
        return { sent: sha256(payload), got: sha256(Buffer.concat(chunks)), length: Buffer.concat(chunks).length };
      }),
    );
    for (const r of results) {
      assert.equal(r.length, 64 * 1024);
      assert.equal(r.got, r.sent);
    }
    assert.ok(offersToSilent > 0, 'round-robin offered some connections to the silent listener');
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 5000, `all six connected in ${elapsed} ms (the accept timeout is 10 s)`);
  });

  it('is demoted once it left a sender waiting: no more offers while another listener answers', async () => {
    const client = new HybridConnectionClient({ connectionString: relay.connectionString('frozen') });
    const offersBefore = offersToSilent;
    for (let i = 0; i < 10; i++) {
      const stream = await client.createConnection({ retryBudgetMs: 0 });
      const payload = patternBytes(4096, 100 + i);
      stream.end(payload);
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      assert.equal(sha256(Buffer.concat(chunks)), sha256(payload));
    }
    // Round robin alone would have offered it every other one of these (5 of 10).
    assert.equal(offersToSilent - offersBefore, 0, `offers to the silent listener: ${offersToSilent - offersBefore}`);
  });
});
