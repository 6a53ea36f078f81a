/**
 * The IP rules against the addresses real sockets report: an IPv6 socket bound to the IPv4-mapped
 * loopback (::ffff:127.0.0.1) sees IPv4 clients as ::ffff:127.0.0.x, as a dual-stack relay does;
 * a relay on ::1 sees an IPv6 client.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type WebSocket from 'ws';
import { ADDRESS_REFUSED } from '../../src/relay/client-address.js';
import { waitFor } from '../helpers/async.js';
import { patternBytes } from '../helpers/data.js';
import { capturingLogger, startRelay, type TestRelay } from '../helpers/relay.js';
import { assertBinaryEcho, httpRequest, openSender, startEchoListener, type RawListener } from './protocol-peers.js';

describe('IP rules on the addresses sockets report', () => {
  const relays: TestRelay[] = [];
  const sockets: (WebSocket | RawListener)[] = [];
  after(async () => {
    for (const s of sockets) s.terminate();
    for (const r of relays) await r.stop();
  });
  const statusOf = async (promise: Promise<WebSocket>): Promise<number> => {
    try {
      sockets.push(await promise);
      return 0;
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (status === undefined) throw err;
      return status;
    }
  };

  test('a dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d; IPv4 rules match them, and the log names the rule', async () => {
    const captured = capturingLogger();
    const relay = await startRelay({ host: '::ffff:127.0.0.1', hybridConnections: ['web'], log: captured.log });
    relays.push(relay);
    await relay.server.store.changeNetworkRuleSet(() => ({
      defaultAction: 'Deny',
      ipRules: [
        { ipMask: '127.0.0.3', action: 'Deny' },
        { ipMask: '::ffff:127.0.0.0/104', action: 'Allow' },
      ],
    }));
    const listener = await startEchoListener(relay, 'web');
    sockets.push(listener);
    const sender = await openSender(relay, 'web', { localAddress: '127.0.0.2' });
    sockets.push(sender);
    await assertBinaryEcho(sender, patternBytes(64 * 1024, 31));
    assert.equal(await statusOf(openSender(relay, 'web', { localAddress: '127.0.0.3' })), 403);
    const refusal = (await waitFor(() => captured.records.find((r) => r.msg === 'client refused by the IP rules'), 2000, 'the refusal line'))!;
    assert.equal(refusal.remote, '::ffff:127.0.0.3', 'the address as the socket reported it');
    assert.equal(refusal.ipRule, 1);
    assert.equal(refusal.what, 'handshake');
    assert.equal(JSON.stringify(captured.records).includes('"sender refused"'), false);
  });

  test('an IPv6 client on ::1, and health details only for addresses the rules allow', async () => {
    const relay = await startRelay({ host: '::1', hybridConnections: ['web'] });
    relays.push(relay);
    const v6 = { ...relay, wsBase: `ws://[::1]:${relay.port}`, httpBase: `http://[::1]:${relay.port}` };
    const listener = await startEchoListener(v6, 'web');
    sockets.push(listener);
    // The listener came in before the rules; they cut it (ip-rules-established.test.ts has the details).
    await relay.server.store.changeNetworkRuleSet(() => ({ defaultAction: 'Allow', ipRules: [{ ipMask: '::1/128', action: 'Deny' }] }));
    assert.equal((await listener.waitClosed()).code, 1008);
    assert.equal(await statusOf(openSender(v6, 'web')), 403);
    const http = await httpRequest(`${v6.httpBase}/web`, { headers: { ServiceBusAuthorization: relay.token('web') } });
    assert.equal(http.status, 403);
    assert.equal(JSON.parse(http.body.toString('utf8')).error.message, ADDRESS_REFUSED);
    const health = await httpRequest(`${v6.httpBase}/$hybridge/health`, { headers: { ServiceBusAuthorization: relay.token('') } });
    assert.equal(health.status, 200);
    assert.deepEqual(JSON.parse(health.body.toString('utf8')), { status: 'ok' }, 'a refused address sees the status only, even with a Manage token');

    await relay.server.store.changeNetworkRuleSet(() => ({ defaultAction: 'Deny', ipRules: [{ ipMask: '::1', action: 'Allow' }] }));
    sockets.push(await startEchoListener(v6, 'web'));
    assert.equal(await statusOf(openSender(v6, 'web')), 0);
    await assertBinaryEcho(sockets[sockets.length - 1] as WebSocket, patternBytes(32 * 1024, 32));
    const details = await httpRequest(`${v6.httpBase}/$hybridge/health`, { headers: { ServiceBusAuthorization: relay.token('') } });
    assert.equal(JSON.parse(details.body.toString('utf8')).node, 'local', 'an allowed manager sees the details');
  });
});
