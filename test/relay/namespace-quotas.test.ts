/**
 * Quotas of the namespace (issue 13): senders waiting for a listener's accept are bounded per
 * hybrid connection, and the namespace's connections on a node (listeners, waiting and relayed
 * senders, HTTP requests in flight; Azure's default is 5,000) are bounded in all. Past either, a
 * newcomer gets 503 and everything already there carries on.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestRelay } from '../helpers/relay.js';
import { expectRefusal, hcUrl, httpRequest, openSender, RawListener, startEchoListener, startRelayWithHealthyLink, stopRelayWithHealthyLink, type HealthyLink } from './protocol-peers.js';
import { waitFor } from '../helpers/async.js';

describe('namespace quotas', () => {
  let relay: TestRelay;
  let healthy: HealthyLink;
  let frozen: RawListener;

  before(async () => {
    ({ relay, healthy } = await startRelayWithHealthyLink({ hybridConnections: ['healthy', 'slow', 'echo'], limits: { maxPendingSendersPerHyco: 3, maxConnectionsPerNamespace: 8 }, acceptTimeoutMs: 20_000, handoffMs: 20_000 }));
    // Takes no accept: its senders wait.
    frozen = await RawListener.open(relay, 'slow');
  });
  after(async () => {
    frozen?.terminate();
    await stopRelayWithHealthyLink(relay, healthy);
  });

  it('lets 3 senders wait for a listener of one hybrid connection; the 4th gets 503 at once', async () => {
    const controller = new AbortController();
    const waiting = Array.from({ length: 3 }, () => expectRefusal(hcUrl(relay, 'slow', 'connect'), { ServiceBusAuthorization: relay.token('slow') }, 20_000, controller.signal).catch(() => undefined));
    await frozen.waitAccepts(3);
    const fourth = await expectRefusal(hcUrl(relay, 'slow', 'connect'), { ServiceBusAuthorization: relay.token('slow') });
    assert.equal(fourth.status, 503);
    assert.match(fourth.message, /3 senders are already waiting/);
    assert.equal(frozen.accepts.length, 3, 'the 4th was never offered');
    controller.abort();
    await Promise.all(waiting);
    await waitFor(() => relay.server.broker.pendingCount === 0, 3000, 'the waiting senders to leave');
    await healthy.check();
  });

  it('counts listeners, senders and HTTP requests of the namespace; past 8, newcomers get 503', async () => {
    // Now: the healthy link's listener and its connection, and the frozen listener: 3.
    assert.equal(relay.server.namespaceConnections, 3);
    const echo = await startEchoListener(relay, 'echo');
    const senders = [];
    for (let i = 0; i < 4; i++) senders.push(await openSender(relay, 'echo'));
    assert.equal(relay.server.namespaceConnections, 8);
    const sender = await expectRefusal(hcUrl(relay, 'echo', 'connect'), { ServiceBusAuthorization: relay.token('echo') });
    assert.equal(sender.status, 503);
    assert.match(sender.message, /QuotaExceeded/);
    const listener = await expectRefusal(hcUrl(relay, 'echo', 'listen'), { ServiceBusAuthorization: relay.token('echo') });
    assert.equal(listener.status, 503);
    const request = await httpRequest(`${relay.httpBase}/echo/x`, { headers: { ServiceBusAuthorization: relay.token('echo') } });
    assert.equal(request.status, 503);
    await healthy.check();
    for (const s of senders) s.terminate();
    await waitFor(() => relay.server.namespaceConnections === 4, 3000, 'the senders to leave');
    const again = await openSender(relay, 'echo');
    again.terminate();
    await echo.close();
  });
});
