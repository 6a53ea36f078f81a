/**
 * What the relay bounds before a request is routed (issue 13): heads that take too long get 408
 * and their socket is destroyed, not half-closed; a connection that does not authenticate within
 * the handshake timeout is destroyed; one address may hold only so many unauthenticated
 * connections; the request target is bounded before any lookup; a body trickled after a refusal
 * keeps its connection for the linger time only. The relay runs in this process, so its
 * descriptors are this process's: a socket the relay destroyed is one descriptor fewer here.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { UNREAD_BODY_LINGER_MS } from '../../src/relay/http-errors.js';
import { delay, waitFor } from '../helpers/async.js';
import { type TestRelay } from '../helpers/relay.js';
import { httpRequest, openSender, RawListener, startEchoListener, startRelayWithHealthyLink, stopRelayWithHealthyLink, type HealthyLink } from './protocol-peers.js';

const openFds = () => readdirSync('/proc/self/fd').length;

/** `ended`: the relay ended or reset the connection (the peer itself keeps its end open). */
function rawSocket(relay: TestRelay, localAddress = '127.0.0.1'): Promise<{ socket: Socket; text: () => string; ended: Promise<void>; isEnded: () => boolean }> {
  return new Promise((resolve, reject) => {
    // Keeps its end open when the relay ends its own, as an attacker would.
    const socket = connect({ host: '127.0.0.1', port: relay.port, localAddress, allowHalfOpen: true });
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    let done = false;
    const ended = new Promise<void>((r) => {
      const end = () => {
        done = true;
        r();
      };
      socket.once('end', end);
      socket.once('close', end);
    });
    socket.on('error', () => undefined);
    socket.once('connect', () => resolve({ socket, text: () => text, ended, isEnded: () => done }));
    socket.once('error', reject);
  });
}

describe('front door limits', () => {
  let relay: TestRelay;
  let healthy: HealthyLink;
  let echo: RawListener;
  let web: RawListener;

  before(async () => {
    ({ relay, healthy } = await startRelayWithHealthyLink({
      hybridConnections: ['hc', 'web', 'healthy'],
      limits: { headerTimeoutMs: 300, handshakeTimeoutMs: 1500, maxUnauthenticatedPerAddress: 5, maxRequestTargetBytes: 2048 },
    }));
    echo = await startEchoListener(relay, 'hc');
    web = await RawListener.open(relay, 'web', { onRequest: (request, _body, l) => l.sendJson({ response: { requestId: request.id, statusCode: 200, body: false } }) });
  });
  after(async () => {
    await echo?.close();
    await web?.close();
    await stopRelayWithHealthyLink(relay, healthy);
  });

  it('answers a head that takes too long with 408 and destroys its socket (no half-close)', async () => {
    const base = openFds();
    const peer = await rawSocket(relay);
    await waitFor(() => openFds() === base + 2, 2000, 'both ends open');
    peer.socket.write('GET /$hybridge/health HTTP/1.1\r\nHost: x\r\n');
    await waitFor(() => peer.text().startsWith('HTTP/1.1 408'), 3000, 'the 408');
    // The relay's end of the connection is gone, its descriptor with it, although the peer keeps its end open.
    await waitFor(() => openFds() === base + 1, 2000, 'the relay\'s descriptor to close');
    peer.socket.destroy();
    await healthy.check();
  });

  it('destroys a connection that has not authenticated within the handshake timeout; authenticated ones stay', async () => {
    const peer = await rawSocket(relay);
    // Keeps answering health checks (keep-alive), but never authenticates.
    peer.socket.write('GET /$hybridge/health HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(() => peer.text().includes('"status":"ok"'), 2000, 'the health answer');
    const started = Date.now();
    await Promise.race([peer.ended, delay(5000)]);
    const waited = Date.now() - started;
    assert.ok(peer.isEnded(), 'the relay closed the unauthenticated connection');
    assert.ok(waited < 3000, `closed after ${waited} ms`);
    peer.socket.destroy();
    // The healthy link authenticated long ago and outlived several handshake timeouts.
    await healthy.check();
  });

  it('lets one address hold 5 unauthenticated connections; the 6th is closed at once, other addresses are unaffected', async () => {
    const held = await Promise.all(Array.from({ length: 5 }, () => rawSocket(relay, '127.0.0.9')));
    await delay(100);
    assert.ok(held.every((p) => !p.isEnded()), 'the first 5 stay');
    const sixth = await rawSocket(relay, '127.0.0.9');
    await Promise.race([sixth.ended, delay(2000)]);
    assert.ok(sixth.isEnded(), 'the 6th was closed');
    assert.equal(sixth.text(), '', 'without an answer');
    const health = await httpRequest(`${relay.httpBase}/$hybridge/health`);
    assert.equal(health.status, 200, 'another address is served');
    const sender = await openSender(relay, 'hc');
    sender.terminate();
    for (const p of held) p.socket.destroy();
  });

  it('refuses a request target over the limit with 414 before looking anything up (HTTP and WebSocket)', async () => {
    const long = `/hc/${'a/'.repeat(1100)}`;
    const answer = await httpRequest(`${relay.httpBase}${long}`, { headers: { ServiceBusAuthorization: relay.token('hc') } });
    assert.equal(answer.status, 414);
    const peer = await rawSocket(relay);
    peer.socket.write(`GET /$hc/hc/${'a/'.repeat(1100)}?sb-hc-action=connect HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    await waitFor(() => peer.text().startsWith('HTTP/1.1 414'), 2000, 'the 414');
    peer.socket.destroy();
    await healthy.check();
  });

  it(`gives a body trickled after a refusal ${UNREAD_BODY_LINGER_MS / 1000} s, then closes its connection (also one that authenticated before)`, async () => {
    const peer = await rawSocket(relay);
    // An authorized request first: the connection is authenticated, the handshake timeout no longer applies.
    peer.socket.write(`GET /web/ok HTTP/1.1\r\nHost: x\r\nServiceBusAuthorization: ${relay.token('web')}\r\n\r\n`);
    await waitFor(() => peer.text().startsWith('HTTP/1.1 200'), 3000, 'the relayed 200');
    await delay(1600);
    assert.equal(peer.isEnded(), false, 'an authenticated connection outlives the handshake timeout');
    peer.socket.write(`POST /web/upload HTTP/1.1\r\nHost: x\r\nServiceBusAuthorization: ${relay.token('web', { key: 'wrong-key-0123456789' })}\r\nContent-Length: 100000\r\n\r\n`);
    await waitFor(() => peer.text().includes('HTTP/1.1 401'), 2000, 'the 401');
    const started = Date.now();
    const trickle = setInterval(() => peer.socket.write('z'), 200);
    await Promise.race([peer.ended, delay(UNREAD_BODY_LINGER_MS + 3000)]);
    clearInterval(trickle);
    peer.socket.destroy();
    const waited = Date.now() - started;
    assert.ok(peer.isEnded(), 'the connection was closed');
    assert.ok(waited >= UNREAD_BODY_LINGER_MS - 500 && waited <= UNREAD_BODY_LINGER_MS + 1500, `closed after ${waited} ms`);
    await healthy.check();
  });
});
