/**
 * The relay's own answers that issue 13 found wrong, each checked on the wire: a management body
 * over 16 KiB gets 413 (not a reset), a wrong Sec-WebSocket-Version gets 400 naming version 13
 * (RFC 6455 §4.4), a listener's 1xx/101 is not relayed as a final answer (502), the unauthenticated
 * health check says only "ok" (issue 18 item 11), and 500 refused senders make a handful of log
 * lines, not 500.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ROOT_RULE, capturingLogger, type TestRelay } from '../helpers/relay.js';
import { expectRefusal, hcUrl, httpRequest, RawListener, startRelayWithHealthyLink, stopRelayWithHealthyLink, type HealthyLink } from './protocol-peers.js';
import { waitFor, withTimeout } from '../helpers/async.js';

/** Writes `head` on a new connection and returns what came back until the relay closed it (or 3 s passed). */
function rawExchange(relay: TestRelay, head: string): Promise<string> {
  return withTimeout(
    new Promise((resolve) => {
      const socket = connect(relay.port, '127.0.0.1');
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(text));
      socket.write(head);
      setTimeout(() => socket.destroy(), 3000).unref();
    }),
    5000,
    'raw exchange',
  );
}

describe('relay answers', () => {
  let relay: TestRelay;
  let healthy: HealthyLink;
  const captured = capturingLogger();
  let interim: RawListener;

  before(async () => {
    ({ relay, healthy } = await startRelayWithHealthyLink({ hybridConnections: ['healthy', 'interim', 'nobody'], log: captured.log }));
    // A listener that answers every request with an interim status.
    interim = await RawListener.open(relay, 'interim', { onRequest: (request, _body, l) => l.sendJson({ response: { requestId: request.id, statusCode: Number(/s=(\d+)/.exec(request.requestTarget ?? '')?.[1] ?? 101), body: false } }) });
  });
  after(async () => {
    await interim?.close();
    await stopRelayWithHealthyLink(relay, healthy);
  });

  it('answers a management body over 16 KiB with 413, and the client reads it (no reset)', async () => {
    for (const size of [20 * 1024, 200 * 1024]) {
      const answer = await httpRequest(`${relay.httpBase}/$hybridge/v1/hybridconnections/big`, { method: 'PUT', headers: { ServiceBusAuthorization: relay.token(''), 'Content-Type': 'application/json' }, body: Buffer.alloc(size, 0x20) });
      assert.equal(answer.status, 413, `a ${size}-byte body`);
      assert.equal((JSON.parse(answer.body.toString()) as { error: { code: string } }).error.code, 'PayloadTooLarge');
    }
    assert.equal((await httpRequest(`${relay.httpBase}/$hybridge/v1/hybridconnections/big`, { headers: { ServiceBusAuthorization: relay.token('') } })).status, 404, 'nothing was created');
  });

  it('refuses Sec-WebSocket-Version 8 with 400 and Sec-WebSocket-Version: 13', async () => {
    for (const action of ['listen', 'connect']) {
      const head = await rawExchange(
        relay,
        `GET /$hc/healthy?sb-hc-action=${action} HTTP/1.1\r\nHost: x\r\nServiceBusAuthorization: ${relay.token('healthy')}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n`,
      );
      assert.match(head, /^HTTP\/1\.1 400 /, action);
      assert.match(head, /\r\nSec-WebSocket-Version: 13\r\n/i, `${action}: the supported version is named`);
    }
  });

  it('answers 502 when the listener sends an interim status (100, 101) as its response', async () => {
    for (const status of [100, 101]) {
      const answer = await httpRequest(`${relay.httpBase}/interim/x?s=${status}`, { headers: { ServiceBusAuthorization: relay.token('interim') } });
      assert.equal(answer.status, 502, `status ${status}`);
      assert.match(answer.body.toString(), new RegExp(`status ${status}, which cannot be relayed as a final response`));
    }
    const ok = await httpRequest(`${relay.httpBase}/interim/x?s=204`, { headers: { ServiceBusAuthorization: relay.token('interim') } });
    assert.equal(ok.status, 204, 'final statuses pass');
  });

  it('tells an unauthenticated health check only its status; a namespace Manage token sees node and counts', async () => {
    const anonymous = await httpRequest(`${relay.httpBase}/$hybridge/health`);
    assert.equal(anonymous.status, 200);
    assert.deepEqual(JSON.parse(anonymous.body.toString()), { status: 'ok' });
    const bad = await httpRequest(`${relay.httpBase}/$hybridge/health`, { headers: { ServiceBusAuthorization: relay.token('', { key: 'wrong-key-0123456789' }) } });
    assert.deepEqual(JSON.parse(bad.body.toString()), { status: 'ok' });
    const manager = await httpRequest(`${relay.httpBase}/$hybridge/health`, { headers: { Authorization: relay.token('', { keyName: ROOT_RULE }) } });
    const details = JSON.parse(manager.body.toString()) as Record<string, unknown>;
    assert.equal(details.status, 'ok');
    assert.equal(details.node, 'local');
    assert.equal(typeof details.listeners, 'number');
    assert.equal(typeof details.connections, 'number');
  });

  it('logs 500 senders refused for want of a listener in a handful of lines', async () => {
    const before = captured.records.length;
    const started = Date.now();
    const refusals = await Promise.all(Array.from({ length: 500 }, () => expectRefusal(hcUrl(relay, 'nobody', 'connect'), { ServiceBusAuthorization: relay.token('nobody') }, 10_000)));
    assert.ok(refusals.every((r) => r.status === 404));
    const lines = () => captured.records.slice(before).filter((r) => String(r.msg).startsWith('sender refused'));
    // Each written line, and each summary's count of the ones that were not: every refusal is accounted for.
    const counted = () => lines().reduce((n, r) => n + (typeof r.suppressed === 'number' ? r.suppressed : 1), 0);
    await waitFor(() => counted() === 500, 3000, 'every refusal counted');
    // At most 10 lines and one summary per second the refusals took (all of them arrive within a second or three).
    const seconds = Math.ceil((Date.now() - started) / 1000) + 1;
    assert.ok(lines().length <= 11 * seconds, `${lines().length} lines in ${seconds} s`);
    assert.ok(lines().length < 60, `${lines().length} lines`);
    await healthy.check();
  });
});
