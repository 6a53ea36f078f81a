/**
 * A change of the IP rules applies to connections already open, not only to new ones: a listener
 * control channel, a sender, or a relayed connection whose listener leg comes from an address the
 * new rules refuse is closed with 1008 at once; everything else keeps carrying bytes.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import WebSocket from 'ws';
import { patternBytes } from '../helpers/data.js';
import { capturingLogger, startRelay, type TestRelay } from '../helpers/relay.js';
import { waitFor } from '../helpers/async.js';
import { acceptAndEcho, assertBinaryEcho, closedPromise, openSender, RawListener } from './protocol-peers.js';

const REFUSED = { code: 1008, reason: 'the client address is no longer allowed by the IP rules' };

describe('IP rule changes and established connections', () => {
  const relays: TestRelay[] = [];
  const sockets: (WebSocket | RawListener)[] = [];
  after(async () => {
    for (const s of sockets) s.terminate();
    for (const r of relays) await r.stop();
  });

  test('senders, listeners and rendezvous legs from a newly refused address are cut; the rest keep working', async () => {
    const captured = capturingLogger();
    const relay = await startRelay({ hybridConnections: ['web', 'far'], log: captured.log });
    relays.push(relay);
    // Listener on "web" from 127.0.0.1 (rendezvous too); listener on "far" from 127.0.0.4, whose rendezvous come from 127.0.0.5.
    const near = await RawListener.open(relay, 'web', { onAccept: (accept, l) => acceptAndEcho(accept, l) });
    const far = await RawListener.open(relay, 'far', { localAddress: '127.0.0.4', onAccept: (accept, l) => acceptAndEcho(accept, l, '', '127.0.0.5') });
    sockets.push(near, far);
    const kept = await openSender(relay, 'web', { localAddress: '127.0.0.2' });
    const cutSender = await openSender(relay, 'web', { localAddress: '127.0.0.3' });
    const cutLeg = await openSender(relay, 'far', { localAddress: '127.0.0.2' });
    sockets.push(kept, cutSender, cutLeg);
    for (const [i, ws] of [kept, cutSender, cutLeg].entries()) await assertBinaryEcho(ws, patternBytes(32 * 1024, 60 + i));
    const closes = [cutSender, cutLeg].map(closedPromise);
    const farClosed = far.waitClosed();

    await relay.server.store.changeNetworkRuleSet(() => ({
      defaultAction: 'Allow',
      ipRules: [
        { ipMask: '127.0.0.3', action: 'Deny' },
        { ipMask: '127.0.0.4', action: 'Deny' },
        { ipMask: '127.0.0.5', action: 'Deny' },
      ],
    }));

    assert.deepEqual(await closes[0], REFUSED, 'the sender from 127.0.0.3');
    assert.deepEqual(await closes[1], REFUSED, 'the connection whose listener leg is from 127.0.0.5');
    assert.deepEqual(await farClosed, REFUSED, 'the listener control channel from 127.0.0.4');
    assert.equal(near.ws.readyState, WebSocket.OPEN, 'the listener from an allowed address stays');
    await assertBinaryEcho(kept, patternBytes(256 * 1024, 70));
    const event = await waitFor(() => captured.records.find((r) => r.msg === 'IP rules changed; connections from addresses they now refuse were closed'), 2000, 'the event line');
    assert.equal(event!.closed, 3);

    // A change that refuses nobody who is connected closes nothing.
    await relay.server.store.changeNetworkRuleSet((rules) => ({ ...rules, ipRules: [...rules.ipRules, { ipMask: '10.0.0.0/8', action: 'Deny' }] }));
    await waitFor(() => captured.records.filter((r) => r.msg === 'IP rules changed; connections from addresses they now refuse were closed').length === 2, 2000, 'the second event line');
    assert.equal(captured.records.filter((r) => r.msg === 'IP rules changed; connections from addresses they now refuse were closed')[1]!.closed, 0);
    await assertBinaryEcho(kept, patternBytes(16 * 1024, 71));
  });
});
