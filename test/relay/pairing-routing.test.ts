/**
 * How the relay pairs senders with listeners (protocol reference §1.2, §1.3, §2.1, §7): what the
 * listener learns in `accept`, Allowed/DisallowedListeners routing, the listener quota, hand-on
 * when an offered listener leaves, independence of established connections from their control
 * channel, and deleting a hybrid connection.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import WebSocketClient from 'ws';
import type WebSocket from 'ws';
import { isValidWebSocketKey } from '../../src/protocol/websocket-handshake.js';
import { waitFor } from '../helpers/async.js';
import { patternBytes, sha256 as sha256Of } from '../helpers/data.js';
import type { TestRelay } from '../helpers/relay.js';
import {
  acceptAndEcho,
  assertBinaryEcho,
  closedPromise,
  expectRefusal,
  hcUrl,
  headerOf,
  httpRequest,
  nextMessage,
  openSender,
  RawListener,
  startEchoListener,
  startRelayWithHealthyLink,
  stopRelayWithHealthyLink,
  WAIT_MS,
  type HealthyLink,
} from './protocol-peers.js';

describe('pairing senders with listeners', () => {
  let relay: TestRelay;
  let healthy: HealthyLink;
  const cleanup: (() => Promise<void> | void)[] = [];

  before(async () => ({ relay, healthy } = await startRelayWithHealthyLink({ hybridConnections: ['route', 'quota', 'handoff', 'doomed', 'route/deeper', 'healthy'], maxListenersPerEntity: 2 })));
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
    await healthy.check();
  });
  after(() => stopRelayWithHealthyLink(relay, healthy));

  async function listener(entity: string, options: Parameters<typeof RawListener.open>[2] = {}): Promise<RawListener> {
    const l = await RawListener.open(relay, entity, options);
    cleanup.push(() => l.close());
    return l;
  }

  async function sender(entity: string, options: Parameters<typeof openSender>[2] = {}): Promise<WebSocket> {
    const ws = await openSender(relay, entity, options);
    cleanup.push(() => ws.terminate());
    return ws;
  }

  async function whoAnswers(ws: WebSocket): Promise<string> {
    const reply = nextMessage(ws);
    ws.send('who');
    return (await reply).data.toString('utf8').replace(/:who$/, '');
  }

  it('accept.connectHeaders carries every sender header (custom X-Test, Sec-WebSocket-Key) but not ServiceBusAuthorization', async () => {
    const l = await listener('route', { onAccept: (a, rl) => acceptAndEcho(a, rl) });
    const ws = await sender('route', { headers: { 'X-Test': 'custom value 1', 'User-Agent': 'pairing-test/1.0' }, protocols: ['p1', 'p2'] });
    const [accept] = await l.waitAccepts(1);
    const headers = accept!.connectHeaders;
    assert.equal(headerOf(headers, 'x-test'), 'custom value 1');
    assert.equal(headerOf(headers, 'user-agent'), 'pairing-test/1.0');
    assert.ok(isValidWebSocketKey(headerOf(headers, 'sec-websocket-key')), 'Sec-WebSocket-Key is there, as hyco-ws and hyco-https need it');
    assert.equal(headerOf(headers, 'sec-websocket-version'), '13');
    assert.equal(headerOf(headers, 'sec-websocket-protocol'), 'p1,p2');
    assert.equal(headerOf(headers, 'servicebusauthorization'), undefined, 'the sender token never reaches the listener');
    assert.ok(accept!.id.length > 0);
    assert.equal(accept!.remoteEndpoint?.address, '127.0.0.1');
    assert.equal(ws.protocol, 'p1');
    await assertBinaryEcho(ws, patternBytes(10_000, 1));
  });

  it('the sender path suffix and query reach the listener in the accept address, minus sb-hc-* parameters', async () => {
    const l = await listener('route', { onAccept: (a, rl) => acceptAndEcho(a, rl) });
    const token = encodeURIComponent(relay.token('route'));
    const ws = await sender('route', { pathAndSuffix: 'route/some/deeper%20path', query: `app=1&x=%2B&&flag&sb-hc-token=${token}&sb-hc-id=trace-42`, token: null });
    const [accept] = await l.waitAccepts(1);
    const address = new URL(accept!.address);
    assert.equal(address.pathname, '/$hc/route/some/deeper%20path');
    assert.ok(address.search.startsWith('?app=1&x=%2B&&flag&'), `query was ${address.search}`);
    assert.equal(address.searchParams.get('sb-hc-action'), 'accept');
    assert.equal(address.searchParams.get('sb-hc-token'), null, 'the token is not passed on');
    assert.equal(accept!.id, 'trace-42', "accept.id is the sender's sb-hc-id");
    assert.notEqual(address.searchParams.get('sb-hc-id'), 'trace-42', 'the rendezvous id is the relay’s own secret');
    await assertBinaryEcho(ws, patternBytes(5000, 2));
  });

  it('a hierarchical hybrid connection wins over a shorter one with a suffix', async () => {
    const deep = await listener('route/deeper', { onAccept: (a, rl) => acceptAndEcho(a, rl, 'deep:') });
    const shallow = await listener('route', { onAccept: (a, rl) => acceptAndEcho(a, rl, 'shallow:') });
    assert.equal(await whoAnswers(await sender('route/deeper', { pathAndSuffix: 'route/deeper/x' })), 'deep');
    assert.equal(await whoAnswers(await sender('route', { pathAndSuffix: 'route/other' })), 'shallow');
    assert.equal(deep.accepts.length + shallow.accepts.length, 2);
  });

  it('Microsoft-Relay-AllowedListeners / DisallowedListeners pick the listener by its sb-hc-id, and 404 when none fits', async () => {
    await listener('route', { id: 'alpha-id_G12', onAccept: (a, rl) => acceptAndEcho(a, rl, 'alpha:') });
    await listener('route', { id: 'beta-id', onAccept: (a, rl) => acceptAndEcho(a, rl, 'beta:') });
    for (let i = 0; i < 3; i++) {
      assert.equal(await whoAnswers(await sender('route', { headers: { 'Microsoft-Relay-AllowedListeners': 'beta-id' } })), 'beta');
      assert.equal(await whoAnswers(await sender('route', { headers: { 'Microsoft-Relay-AllowedListeners': 'nobody, ALPHA-ID' } })), 'alpha');
      assert.equal(await whoAnswers(await sender('route', { headers: { 'Microsoft-Relay-DisallowedListeners': 'beta-id' } })), 'alpha');
    }
    const headers = { ServiceBusAuthorization: relay.token('route') };
    const none = await expectRefusal(hcUrl(relay, 'route', 'connect'), { ...headers, 'Microsoft-Relay-AllowedListeners': 'gamma-id' });
    assert.equal(none.status, 404);
    assert.match(none.message, /listener/i);
    assert.equal((await expectRefusal(hcUrl(relay, 'route', 'connect'), { ...headers, 'Microsoft-Relay-DisallowedListeners': 'alpha-id,beta-id' })).status, 404);
  });

  it('Allowed/DisallowedListeners route HTTP requests too (404 NoMatchingListener when none fits)', async () => {
    const answerAs = (name: string) => (request: { id: string }, _body: Buffer | undefined, rl: RawListener) =>
      rl.sendJson({ response: { requestId: request.id, statusCode: 200, statusDescription: name, body: false } });
    await listener('route', { id: 'alpha-id', onRequest: answerAs('alpha') });
    await listener('route', { id: 'beta-id', onRequest: answerAs('beta') });
    const get = (h: Record<string, string>) => httpRequest(`${relay.httpBase}/route/x`, { headers: { ServiceBusAuthorization: relay.token('route'), ...h } });
    for (let i = 0; i < 3; i++) {
      assert.equal((await get({ 'Microsoft-Relay-AllowedListeners': 'beta-id' })).reason, 'beta');
      assert.equal((await get({ 'Microsoft-Relay-DisallowedListeners': 'beta-id' })).reason, 'alpha');
    }
    const none = await get({ 'Microsoft-Relay-AllowedListeners': 'gamma-id' });
    assert.equal(none.status, 404);
    assert.match(none.body.toString('utf8'), /AllowedListeners/);
  });

  it('refuses a listener beyond --max-listeners with 403 and takes one again when a slot frees', async () => {
    const first = await listener('quota');
    await listener('quota');
    const refusal = await expectRefusal(hcUrl(relay, 'quota', 'listen'), { ServiceBusAuthorization: relay.token('quota') });
    assert.equal(refusal.status, 403);
    assert.match(refusal.message, /QuotaExceeded/);
    await first.close();
    await waitFor(() => relay.server.registry.count('quota') === 1, WAIT_MS, 'a slot frees');
    await listener('quota');
    assert.equal(relay.server.registry.count('quota'), 2);
  });

  it('a listener that leaves after being offered an accept it never took hands the sender on to another listener', async () => {
    const leaver = await listener('handoff');
    const connecting = openSender(relay, 'handoff');
    await leaver.waitAccepts(1);
    const taker = await listener('handoff', { onAccept: (a, rl) => acceptAndEcho(a, rl, 'taker:') });
    leaver.terminate();
    const ws = await connecting;
    cleanup.push(() => ws.terminate());
    assert.equal(await whoAnswers(ws), 'taker');
    assert.equal(taker.accepts.length, 1);
    // The address the leaver was given is dead now.
    assert.equal((await expectRefusal(leaver.accepts[0]!.address)).status, 403);
    await assertBinaryEcho(ws, patternBytes(300_000, 3));
  });

  it('an established connection outlives its listener’s control channel', async () => {
    const l = await listener('handoff', { onAccept: (a, rl) => acceptAndEcho(a, rl) });
    const ws = await sender('handoff');
    await assertBinaryEcho(ws, patternBytes(1000, 4));
    const rendezvous = l.rendezvous[0]!;
    l.ws.terminate();
    await waitFor(() => relay.server.registry.count('handoff') === 0, WAIT_MS, 'the control channel is gone');
    assert.equal(rendezvous.readyState, rendezvous.OPEN);
    await assertBinaryEcho(ws, patternBytes(500_000, 5));
  });

  it('deleting a hybrid connection closes its listeners and relayed connections with 1001', async () => {
    const l1 = await listener('doomed', { onAccept: (a, rl) => acceptAndEcho(a, rl) });
    const l2 = await startEchoListener(relay, 'doomed');
    cleanup.push(() => l2.close());
    const ws = await sender('doomed');
    await assertBinaryEcho(ws, patternBytes(1000, 6));
    const senderClosed = closedPromise(ws);
    const rendezvous = [...l1.rendezvous, ...l2.rendezvous];
    assert.equal(rendezvous.length, 1);
    const listenerLegClosed = closedPromise(rendezvous[0]!);
    await relay.server.store.deleteHybridConnection('doomed');
    assert.equal((await l1.waitClosed()).code, 1001);
    assert.equal((await l2.waitClosed()).code, 1001);
    assert.equal((await senderClosed).code, 1001);
    assert.equal((await listenerLegClosed).code, 1001);
    assert.equal((await expectRefusal(hcUrl(relay, 'doomed', 'listen'), { ServiceBusAuthorization: relay.token('doomed') })).status, 404);
  });

  /** Answers address-only requests over their rendezvous with the SHA-256 of the body, as `name`. */
  function answerOverRendezvous(name: string) {
    return (request: { address: string; method?: string }) => {
      if (request.method !== undefined) return;
      const ws = new WebSocketClient(request.address, { perMessageDeflate: false });
      ws.on('error', () => undefined);
      let id = '';
      ws.on('message', (data, isBinary) => {
        if (!isBinary) {
          const full = (JSON.parse(data.toString()) as { request: { id: string; body?: boolean } }).request;
          id = full.id;
          if (full.body) return;
        }
        ws.send(JSON.stringify({ response: { requestId: id, statusCode: 200, statusDescription: name, body: true } }));
        ws.send(Buffer.from(isBinary ? sha256Of(data as Buffer) : ''), { binary: true });
        ws.close();
      });
    };
  }

  it('a large HTTP request whose listener leaves before taking it is handed to another listener', async () => {
    const leaver = await listener('route', { id: 'leaver-id' });
    const body = patternBytes(200_000, 8);
    const answer = httpRequest(`${relay.httpBase}/route/big`, { method: 'POST', headers: { ServiceBusAuthorization: relay.token('route') }, body });
    await leaver.waitRequests(1);
    await listener('route', { id: 'taker-id', onRequest: answerOverRendezvous('taker') });
    leaver.terminate();
    const got = await answer;
    assert.equal(got.status, 200);
    assert.equal(got.reason, 'taker');
    assert.equal(got.body.toString(), sha256Of(body));
  });

  it('…but never to a listener the request excluded with Microsoft-Relay-AllowedListeners', async () => {
    const leaver = await listener('route', { id: 'leaver-id' });
    const body = patternBytes(200_000, 9);
    const answer = httpRequest(`${relay.httpBase}/route/big`, { method: 'POST', headers: { ServiceBusAuthorization: relay.token('route'), 'Microsoft-Relay-AllowedListeners': 'leaver-id' }, body });
    await leaver.waitRequests(1);
    const excluded = await listener('route', { id: 'other-id', onRequest: answerOverRendezvous('other') });
    leaver.terminate();
    const got = await answer;
    assert.equal(excluded.requests.length, 0, 'the excluded listener never sees the request');
    assert.equal(got.status, 502);
    assert.equal(relay.server.http.pendingCount, 0);
  });
});
