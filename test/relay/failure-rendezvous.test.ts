/**
 * Listeners that do not complete the rendezvous (protocol reference §1.3, §3.5, §3.7): one that
 * never accepts (sender 504 after the accept timeout), one that rejects (listener 410, sender gets
 * the listener's status and description, in both parameter spellings), an HTTP listener that
 * never answers (504 GatewayTimeout), and stale or reused rendezvous addresses (403).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../helpers/async.js';
import type { TestRelay } from '../helpers/relay.js';
import { expectRefusal, hcUrl, httpRequest, RawListener, startRelayWithHealthyLink, stopRelayWithHealthyLink, type HealthyLink } from './protocol-peers.js';

describe('listeners that do not complete the rendezvous', () => {
  let relay: TestRelay;
  let healthy: HealthyLink;

  before(async () => ({ relay, healthy } = await startRelayWithHealthyLink({ hybridConnections: ['silent', 'picky', 'web', 'healthy'], acceptTimeoutMs: 1000, limits: { httpResponseTimeoutMs: 1000, httpResponseIdleTimeoutMs: 1000 } })));
  after(() => stopRelayWithHealthyLink(relay, healthy));

  /** Runs `body` with the listener `opening` resolves to, closes the listener, then checks the healthy link. */
  async function withListener(opening: Promise<RawListener>, body: (listener: RawListener) => Promise<void>): Promise<void> {
    const listener = await opening;
    try {
      await body(listener);
    } finally {
      await listener.close();
    }
    await healthy.check();
  }

  it('a listener that never accepts: the sender gets 504 after the accept timeout, and the address is dead afterwards', async () => {
    await withListener(RawListener.open(relay, 'silent'), async (listener) => {
      const refusal = await expectRefusal(hcUrl(relay, 'silent', 'connect'), { ServiceBusAuthorization: relay.token('silent') });
      assert.equal(refusal.status, 504);
      assert.ok(refusal.elapsedMs >= 900 && refusal.elapsedMs < 4000, `answered after ${refusal.elapsedMs} ms`);
      const [accept] = await listener.waitAccepts(1);
      assert.match(accept!.address, /sb-hc-action=accept/);
      // The listener comes too late: the address is no longer valid.
      assert.equal((await expectRefusal(accept!.address)).status, 403);
      assert.equal(relay.server.broker.pendingCount, 0);
      assert.equal(listener.isOpen, true, 'the control channel itself is fine');
    });
  });

  for (const [spelling, params] of [
    ['sb-hc-statusCode / sb-hc-statusDescription', 'sb-hc-statusCode=403&sb-hc-statusDescription=Go%20away'],
    ['statusCode / statusDescription (hyco-ws spelling)', 'statusCode=403&statusDescription=Go%20away'],
  ] as const) {
    it(`a listener that rejects with ${spelling}: its handshake gets 410, the sender 403 "Go away"`, async () => {
      const rejections: Promise<Awaited<ReturnType<typeof expectRefusal>>>[] = [];
      const opening = RawListener.open(relay, 'picky', { onAccept: (accept) => rejections.push(expectRefusal(`${accept.address}&${params}`)) });
      await withListener(opening, async (listener) => {
        const sender = await expectRefusal(hcUrl(relay, 'picky', 'connect'), { ServiceBusAuthorization: relay.token('picky') });
        assert.equal(sender.status, 403);
        assert.equal(sender.message, 'Go away');
        assert.equal(rejections.length, 1);
        assert.equal((await rejections[0]!).status, 410);
        // The same address cannot be used again, to accept or to reject.
        assert.equal((await expectRefusal(listener.accepts[0]!.address)).status, 403);
        assert.equal(listener.isOpen, true);
      });
    });
  }

  it('a rejection with a status outside 400-599 reaches the sender as 400, with the description', async () => {
    const rejections: Promise<unknown>[] = [];
    const opening = RawListener.open(relay, 'picky', { onAccept: (accept) => rejections.push(expectRefusal(`${accept.address}&sb-hc-statusCode=200&sb-hc-statusDescription=Nope`)) });
    await withListener(opening, async () => {
      const sender = await expectRefusal(hcUrl(relay, 'picky', 'connect'), { ServiceBusAuthorization: relay.token('picky') });
      assert.equal(sender.status, 400);
      assert.equal(sender.message, 'Nope');
      await Promise.all(rejections);
    });
  });

  it('an HTTP listener that never answers: 504 with {"error":{"code":"GatewayTimeout"}}', async () => {
    await withListener(RawListener.open(relay, 'web'), async (listener) => {
      const [get, post] = await Promise.all([
        httpRequest(`${relay.httpBase}/web/slow`, { headers: { ServiceBusAuthorization: relay.token('web') } }),
        httpRequest(`${relay.httpBase}/web/slow`, { method: 'POST', headers: { ServiceBusAuthorization: relay.token('web') }, body: Buffer.alloc(200_000, 1) }),
      ]);
      for (const answer of [get, post]) {
        assert.equal(answer.status, 504);
        assert.ok(answer.elapsedMs >= 900, `answered after ${answer.elapsedMs} ms`);
        const body = JSON.parse(answer.body.toString('utf8')) as { error: { code: string; message: string } };
        assert.equal(body.error.code, 'GatewayTimeout');
        assert.match(body.error.message, /did not respond/);
      }
      assert.equal(listener.requests.length, 2, 'both requests reached the listener');
      assert.equal(relay.server.http.pendingCount, 0);
      assert.equal(listener.isOpen, true);
    });
  });

  it('an HTTP listener whose response comes after the timeout is ignored without harm', async () => {
    const opening = RawListener.open(relay, 'web', {
      onRequest: (request, _body, l) => {
        const respond = () => l.sendJson({ response: { requestId: request.id, statusCode: 200, statusDescription: 'Prompt', body: false } });
        if (request.requestTarget?.includes('late')) setTimeout(respond, 1300);
        else respond();
      },
    });
    await withListener(opening, async (listener) => {
      const answer = await httpRequest(`${relay.httpBase}/web/late`, { headers: { ServiceBusAuthorization: relay.token('web') } });
      assert.equal(answer.status, 504);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(listener.isOpen, true, 'a late response is not a protocol violation');
      // The same control channel still serves the next request.
      const next = await httpRequest(`${relay.httpBase}/web/prompt`, { headers: { ServiceBusAuthorization: relay.token('web') } });
      assert.equal(next.status, 200);
      assert.equal(next.reason, 'Prompt');
    });
  });

  it('a sender that gives up before the accept is forgotten at once; the late listener gets 403', async () => {
    await withListener(RawListener.open(relay, 'silent'), async (listener) => {
      const controller = new AbortController();
      const attempt = expectRefusal(hcUrl(relay, 'silent', 'connect'), { ServiceBusAuthorization: relay.token('silent') }, 5000, controller.signal).catch((err: Error) => err);
      const [accept] = await listener.waitAccepts(1);
      const gaveUp = Date.now();
      controller.abort();
      await attempt;
      // Noticed at once, not only when the (1 s) accept timeout fires.
      await waitFor(() => relay.server.broker.pendingCount === 0, 2000, 'the pending sender is forgotten');
      assert.ok(Date.now() - gaveUp < 500, `the relay noticed after ${Date.now() - gaveUp} ms`);
      assert.equal((await expectRefusal(accept!.address)).status, 403);
      assert.equal(listener.isOpen, true);
    });
  });

  it('unknown actions get 400 and unknown rendezvous ids 403', async () => {
    assert.equal((await expectRefusal(hcUrl(relay, 'silent', 'bogus'))).status, 400);
    assert.equal((await expectRefusal(`${relay.wsBase}/$hc/silent`)).status, 400);
    assert.equal((await expectRefusal(hcUrl(relay, 'silent', 'accept', 'sb-hc-id=0123456789abcdef'))).status, 403);
    assert.equal((await expectRefusal(hcUrl(relay, 'silent', 'accept'))).status, 403);
    assert.equal((await expectRefusal(hcUrl(relay, 'web', 'request', 'sb-hc-id=0123456789abcdef'))).status, 403);
    await healthy.check();
  });
});
