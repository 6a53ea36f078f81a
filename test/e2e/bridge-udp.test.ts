import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { azbridgeRemoteSide } from '../bridge/azbridge-peers.js';
import { endBridgeSuite, startBridge, startUdpEcho, udpClient, type UdpTarget } from '../bridge/bridge-kit.js';
import { freePort, waitFor } from '../helpers/async.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';

describe('hybridge bridge: UDP (processes)', () => {
  let relay: TestRelay;
  let echo: UdpTarget;

  before(async () => {
    relay = await startRelay({ hybridConnections: ['su-echo', 'su-fail', 'su-slow'] });
    echo = await startUdpEcho();
  });

  // The echo target is tracked: endBridgeSuite closes it.
  after(() => endBridgeSuite(relay));

  test('UDP to UDP echo with several client endpoints: every datagram comes back to its own sender', async () => {
    const cs = relay.connectionString();
    const port = await freePort();
    // UDP port names must match exactly ("3434U" is not a number, reference §1.6): name them.
    const remote = await startBridge(['-x', cs, '-T', `su-echo:game/${echo.port}U`]);
    const local = await startBridge(['-x', cs, '-L', `${port}U/game:su-echo`]);
    const clients = await Promise.all([udpClient(), udpClient(), udpClient()]);
    const sizes = [1, 100, 1200, 8000, 30_000, 65_000];
    const sent = clients.map((_client, c) => {
      const datagrams = Array.from({ length: 12 }, (_, i) => patternBytes(sizes[i % sizes.length]!, 100 * c + i + 1));
      return datagrams;
    });
    // Ping-pong per client (all three at once): a burst of 64 KB datagrams would overflow the
    // kernel's UDP buffers, and UDP may drop; this test is about routing and integrity.
    await Promise.all(
      clients.map(async (client, c) => {
        for (const [i, datagram] of sent[c]!.entries()) {
          client.send(datagram, port);
          await waitFor(() => client.received.length === i + 1, 10_000, `echo ${i} for client ${c}`);
        }
      }),
    );
    clients.forEach((client, c) => {
      assert.deepEqual(client.received.map((d) => sha256(d)).sort(), sent[c]!.map((d) => sha256(d)).sort(), `client ${c} got its own datagrams back, each intact`);
    });
    assert.equal(echo.senders.size, 3, 'the target saw one socket per flow');
    await Promise.all(clients.map((c) => c.close()));
    await local.stop('SIGTERM');
    assert.match(local.output(), /connection ended hyco=su-echo port=game client=127\.0\.0\.1:\d+ trackingId=\S+ bytesToListener=\d+ bytesToSender=\d+ durationMs=\d+ end=shutdown datagrams=12\/12/);
    await remote.stop('SIGTERM');
  });

  test('the UDP local forwarder survives the remote side going away and serves new flows once it is back', async () => {
    const cs = relay.connectionString();
    const port = await freePort();
    const local = await startBridge(['-x', cs, '-L', `${port}U/game:su-fail`]);
    let remote = await startBridge(['-x', cs, '-T', `su-fail:game/127.0.0.1:${echo.port}U`]);
    const first = await udpClient();
    first.send(Buffer.from('before'), port);
    await waitFor(() => first.received.length === 1, 10_000, 'echo before the failure');

    await remote.stop('SIGKILL');
    await local.waitForOutput(/connection failed hyco=su-fail .*end=(relay-error|closed)|connection ended hyco=su-fail/);
    // A flow that starts while no listener is online waits for one (the senders' wait policy),
    // holding its first datagrams, and delivers them once the remote side is back.
    const during = await udpClient();
    during.send(Buffer.from('during'), port);
    await local.waitForOutput(/waiting for a listener on "su-fail"/);

    remote = await startBridge(['-x', cs, '-T', `su-fail:game/127.0.0.1:${echo.port}U`]);
    await waitFor(() => during.received.length === 1, 20_000, 'the waiting flow delivers its datagram');
    assert.equal(during.received[0]!.toString(), 'during');
    const afterwards = await udpClient();
    afterwards.send(Buffer.from('after'), port);
    await waitFor(() => afterwards.received.length === 1, 10_000, 'a new flow works again');
    assert.equal(afterwards.received[0]!.toString(), 'after');
    // The first client's flow died with the remote; its next datagram opens a new flow.
    first.send(Buffer.from('again'), port);
    await waitFor(() => first.received.length === 2, 10_000, 'the old client is served again');
    assert.equal(first.received[1]!.toString(), 'again');
    await Promise.all([first.close(), during.close(), afterwards.close()]);
    await Promise.all([local.stop(), remote.stop()]);
  });

  test('a slow relay connect for one flow does not hold up another flow', async () => {
    const cs = relay.connectionString();
    const port = await freePort();
    // An azbridge-style remote that answers the first connection's preamble after 3 s.
    const peer = await azbridgeRemoteSide(relay, 'su-slow', { replyDelayMs: (i) => (i === 0 ? 3000 : 0) });
    const local = await startBridge(['-x', cs, '-L', `${port}U/dns:su-slow`]);
    const slow = await udpClient();
    const quick = await udpClient();
    const started = Date.now();
    slow.send(Buffer.from('slow'), port);
    await waitFor(() => peer.preambles.length === 1, 5000, 'the slow flow reached the remote');
    quick.send(Buffer.from('quick'), port);
    await waitFor(() => quick.received.length === 1, 2500, 'the quick flow answered while the slow one still waits');
    assert.equal(slow.received.length, 0, 'the slow flow is still waiting for its reply');
    assert.ok(Date.now() - started < 3000);
    await waitFor(() => slow.received.length === 1, 8000, 'the slow flow delivers its queued datagram once open');
    assert.equal(slow.received[0]!.toString(), 'slow');
    assert.deepEqual(peer.preambles[0], Buffer.concat([Buffer.from([1, 0, 1, 3]), Buffer.from('dns')]), 'UDP preamble: mode 1, port name');
    await Promise.all([slow.close(), quick.close(), local.stop(), peer.close()]);
  });
});
