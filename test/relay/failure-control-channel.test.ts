/**
 * Listeners that break the control-channel rules (protocol reference §2): a text message over
 * 64 KiB is closed with 1009, malformed JSON and stray binary messages with 1008. Work the
 * listener had in hand fails fast instead of hanging, and nothing else on the relay notices.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import type { TestRelay } from '../helpers/relay.js';
import { expectRefusal, hcUrl, httpRequest, RawListener, startRelayWithHealthyLink, stopRelayWithHealthyLink, WAIT_MS, type HealthyLink } from './protocol-peers.js';

describe('control-channel protocol violations', () => {
  let relay: TestRelay;
  let healthy: HealthyLink;
  /** A well-behaved listener on the same hybrid connection as the offenders. */
  let bystander: RawListener;

  before(async () => {
    ({ relay, healthy } = await startRelayWithHealthyLink({ hybridConnections: ['ctl', 'healthy'], limits: { httpResponseTimeoutMs: 10_000, httpResponseIdleTimeoutMs: 10_000 } }));
    bystander = await RawListener.open(relay, 'ctl', { id: 'bystander' });
  });
  after(async () => {
    await bystander?.close();
    await stopRelayWithHealthyLink(relay, healthy);
  });

  async function assertBystanderFine(): Promise<void> {
    assert.equal(bystander.isOpen, true, `bystander closed (${bystander.closeCode})`);
    await healthy.check();
  }

  /** A fresh listener on 'ctl' sends what `offend` sends; the relay must close it with `code`, and nothing else may notice. */
  async function expectClosedWith(code: number, offend: (ws: RawListener['ws']) => void): Promise<void> {
    const listener = await RawListener.open(relay, 'ctl');
    try {
      offend(listener.ws);
      assert.equal((await listener.waitClosed()).code, code);
    } finally {
      listener.terminate();
    }
    await assertBystanderFine();
  }

  it('a text message larger than 64 KiB closes the channel with 1009', async () => {
    await expectClosedWith(1009, (ws) => ws.send('x'.repeat(64 * 1024 + 1)));
  });

  it('an oversized message split over many small frames is caught too (1009)', async () => {
    const piece = 'y'.repeat(8 * 1024);
    await expectClosedWith(1009, (ws) => {
      for (let i = 0; i < 9; i++) ws.send(piece, { fin: i === 8, binary: false });
    });
  });

  it('a control message just under 64 KiB is accepted (ignored as unknown)', async () => {
    const listener = await RawListener.open(relay, 'ctl');
    try {
      const filler = 'z'.repeat(64 * 1024 - 40);
      listener.ws.send(JSON.stringify({ somethingNew: { filler } }));
      listener.ws.ping();
      await new Promise((resolve) => listener.ws.once('pong', resolve));
      assert.equal(listener.isOpen, true);
    } finally {
      await listener.close();
    }
    await assertBystanderFine();
  });

  for (const [what, message] of [
    ['malformed JSON', '{"response": {"requestId": '],
    ['JSON that is not an object', '[1,2,3]'],
    ['a response without requestId', '{"response":{"statusCode":200,"body":false}}'],
  ] as const) {
    it(`${what} closes the channel with 1008`, async () => {
      await expectClosedWith(1008, (ws) => ws.send(message));
    });
  }

  it('a binary message that no response announced closes the channel with 1008', async () => {
    await expectClosedWith(1008, (ws) => ws.send(Buffer.from([1, 2, 3]), { binary: true }));
  });

  it('an HTTP request held by a listener that breaks the protocol fails at once with 502, not after the timeout', async () => {
    const offender = await RawListener.open(relay, 'ctl', { id: 'offender', onRequest: (_r, _b, l) => l.ws.send('not json at all') });
    try {
      const answer = await httpRequest(`${relay.httpBase}/ctl/x`, { headers: { ServiceBusAuthorization: relay.token('ctl'), 'Microsoft-Relay-AllowedListeners': 'offender' } });
      assert.equal(answer.status, 502);
      assert.ok(answer.elapsedMs < 5000, `answered after ${answer.elapsedMs} ms`);
      assert.equal((await offender.waitClosed()).code, 1008);
      assert.equal(relay.server.http.pendingCount, 0);
    } finally {
      offender.terminate();
    }
    await assertBystanderFine();
  });

  it('a sender offered to a listener that breaks the protocol is handed to another listener', async () => {
    // Only the offender and the echoing helper may take it; the offender is tried first.
    const helper = await RawListener.open(relay, 'ctl', {
      id: 'helper',
      onAccept: (accept, l) => {
        const ws = new WebSocket(accept.address, { perMessageDeflate: false });
        ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
        ws.on('error', () => undefined);
        l.rendezvous.push(ws);
      },
    });
    const offender = await RawListener.open(relay, 'ctl', { id: 'offender2', onAccept: (_a, l) => l.ws.send('{{{') });
    try {
      const senders = [];
      for (let i = 0; i < 2; i++) {
        const ws = new WebSocket(hcUrl(relay, 'ctl', 'connect'), { headers: { ServiceBusAuthorization: relay.token('ctl'), 'Microsoft-Relay-AllowedListeners': 'offender2, helper' }, perMessageDeflate: false });
        ws.on('error', () => undefined);
        senders.push(
          new Promise<string>((resolve) => {
            ws.once('open', () => {
              ws.send('ping');
              ws.once('message', (d) => {
                resolve(String(d));
                ws.terminate();
              });
            });
            ws.once('unexpected-response', (_req, res) => resolve(`refused ${res.statusCode}`));
            setTimeout(() => resolve('timeout'), WAIT_MS).unref();
          }),
        );
      }
      assert.deepEqual(await Promise.all(senders), ['ping', 'ping']);
      assert.ok(offender.accepts.length >= 1, 'the offender was offered a sender');
      assert.equal((await offender.waitClosed()).code, 1008);
      // Once the offender is gone, a sender that insists on it finds nobody.
      const refusal = await expectRefusal(hcUrl(relay, 'ctl', 'connect'), { ServiceBusAuthorization: relay.token('ctl'), 'Microsoft-Relay-AllowedListeners': 'offender2' });
      assert.equal(refusal.status, 404);
    } finally {
      offender.terminate();
      await helper.close();
    }
    await assertBystanderFine();
  });
});
