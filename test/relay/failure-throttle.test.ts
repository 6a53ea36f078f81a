/**
 * The failure throttle (protocol reference §3.1: hyco-ws reconnects ~900 times a second after a
 * 401): past 20 refused handshakes a second from one address, further refusals from that address
 * are held back about a second. Successful handshakes, other addresses and live connections are
 * not slowed down.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { withTimeout } from '../helpers/async.js';
import type { TestRelay } from '../helpers/relay.js';
import { assertBinaryEcho, hcUrl, openSender, startEchoListener, startRelayWithHealthyLink, stopRelayWithHealthyLink, type HealthyLink, type RawListener } from './protocol-peers.js';
import { patternBytes } from '../helpers/data.js';

/** A WebSocket upgrade attempt from `localAddress`; resolves with the status and how long the answer took. */
function upgradeAttempt(url: string, headers: Record<string, string>, localAddress = '127.0.0.1'): Promise<{ status: number; elapsedMs: number }> {
  const started = Date.now();
  const target = new URL(url.replace(/^ws/, 'http'));
  return withTimeout(
    new Promise((resolve, reject) => {
      const req = request({
        host: target.hostname,
        port: target.port,
        path: `${target.pathname}${target.search}`,
        localAddress,
        agent: false,
        headers: { ...headers, Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' },
      });
      req.on('response', (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, elapsedMs: Date.now() - started });
      });
      req.on('upgrade', (_res, socket) => {
        socket.destroy();
        resolve({ status: 101, elapsedMs: Date.now() - started });
      });
      req.on('error', reject);
      req.end();
    }),
    5000,
    'upgrade attempt',
  );
}

describe('failure throttle', () => {
  let relay: TestRelay;
  let healthy: HealthyLink;
  let echo: RawListener;

  before(async () => {
    ({ relay, healthy } = await startRelayWithHealthyLink({ hybridConnections: ['hc', 'healthy'] }));
    echo = await startEchoListener(relay, 'hc');
  });
  after(async () => {
    await echo?.close();
    await stopRelayWithHealthyLink(relay, healthy);
  });

  it('holds back refusals past 20 a second from one address; good clients and other addresses are not slowed', async () => {
    const bad = { ServiceBusAuthorization: relay.token('hc', { key: 'wrong-key' }) };
    const flood = Array.from({ length: 40 }, () => upgradeAttempt(hcUrl(relay, 'hc', 'connect'), bad));
    // While the surplus is held back: a good sender from the same address gets through at once…
    await new Promise((r) => setTimeout(r, 200));
    const goodStarted = Date.now();
    const sender = await openSender(relay, 'hc');
    try {
      assert.ok(Date.now() - goodStarted < 500, `a good handshake took ${Date.now() - goodStarted} ms`);
      await assertBinaryEcho(sender, patternBytes(200_000, 3));
    } finally {
      sender.terminate();
    }
    // …a bad client from another address is answered at once…
    const other = await upgradeAttempt(hcUrl(relay, 'hc', 'connect'), bad, '127.0.0.2');
    assert.equal(other.status, 401);
    assert.ok(other.elapsedMs < 500, `another address waited ${other.elapsedMs} ms`);
    // …and the established healthy connection is untouched.
    const checkStarted = Date.now();
    await healthy.check();
    assert.ok(Date.now() - checkStarted < 1000);

    const results = await Promise.all(flood);
    assert.ok(results.every((r) => r.status === 401), `statuses: ${results.map((r) => r.status).join(',')}`);
    const fast = results.filter((r) => r.elapsedMs < 600).length;
    const held = results.filter((r) => r.elapsedMs >= 900).length;
    assert.ok(fast >= 20 && fast <= 22, `${fast} refusals answered at once`);
    assert.ok(held >= 18, `${held} refusals held back`);
  });

  it('counts HTTP refusals too, and forgets an address after a quiet second', async () => {
    await new Promise((r) => setTimeout(r, 1100));
    const bad = { ServiceBusAuthorization: relay.token('hc', { key: 'wrong-key' }) };
    const started = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 30 }, () =>
        fetch(`${relay.httpBase}/hc/x`, { headers: bad }).then(async (res) => {
          await res.arrayBuffer();
          return { status: res.status, elapsedMs: Date.now() - started };
        }),
      ),
    );
    assert.ok(answers.every((a) => a.status === 401));
    assert.ok(answers.filter((a) => a.elapsedMs < 600).length >= 20, 'the first 20 are answered at once');
    assert.ok(answers.some((a) => a.elapsedMs >= 900), 'the surplus is held back');
    await healthy.check();
  });
});
