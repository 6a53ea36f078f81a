import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createAzbridgeHandler } from '../../../src/bridge/remote/serve-azbridge.js';
import { HybridConnectionListener, type HybridConnectionStream } from '../../../src/client/index.js';
import { ConnectionLifecycle } from '../../../src/forwarding/lifecycle/connection-lifecycle.js';
import { dispatchConnection, trackAccepted, type ProtocolHandler } from '../../../src/forwarding/listener-end.js';
import { Allowlist } from '../../../src/tunnel/allowlist.js';
import { createAztunnelHandler } from '../../../src/tunnel/serve-aztunnel.js';
import { silentLogger } from '../../../src/util/logger.js';
import { bridgeEnv, endBridgeSuite, expectClosed, startBridge, track } from '../bridge-kit.js';
import { freePort, waitFor } from '../../helpers/async.js';
import { spawnHybridge } from '../../helpers/processes.js';
import { ROOT_KEY, ROOT_RULE, startRelay, type TestRelay } from '../../helpers/relay.js';
import { startTaggedEcho, trickleExchange, type TaggedTarget } from './pool-kit.js';

type Misbehaviour = 'abort' | 'close-cleanly';

/**
 * A listener that loses its first `failFirst` connections after reading their first message (as a
 * listener killed between taking a connection and answering it: the relay tells the sender it went
 * away), then serves the rest with `handler`.
 */
async function flakyListener(relay: TestRelay, hyco: string, failFirst: number, handler: ProtocolHandler, how: Misbehaviour = 'abort') {
  const listener = new HybridConnectionListener({ endpoint: relay.wsBase, entityPath: hyco, keyName: ROOT_RULE, key: ROOT_KEY });
  let seen = 0;
  const lifecycle = new ConnectionLifecycle(silentLogger());
  listener.on('connection', (stream: HybridConnectionStream) => {
    stream.on('error', () => undefined);
    if (++seen <= failFirst) {
      void stream.readMessage(5000).then(
        () => (how === 'abort' ? stream.destroy() : (stream.end(), stream.resume())),
        () => stream.destroy(),
      );
      return;
    }
    void dispatchConnection(stream, { azbridge: handler, aztunnel: handler }, trackAccepted(lifecycle, stream, { hyco }), { firstMessageTimeoutMs: 5000 });
  });
  await listener.open();
  // Tracked, so that a failed test still closes it (a listener left open reconnects forever).
  return track({
    get seen() {
      return seen;
    },
    close: () => listener.close(),
  });
}

describe('a relayed connection lost before the listener answers is tried again (processes)', () => {
  let relay: TestRelay;
  let echo: TaggedTarget;

  before(async () => {
    relay = await startRelay({ hybridConnections: ['rb-bridge', 'rb-bridge-max', 'rb-bridge-clean', 'rb-tunnel'] });
    echo = await startTaggedEcho('echo');
  });

  after(() => endBridgeSuite(relay));

  const azbridge = (hyco: string) => createAzbridgeHandler([{ kind: 'tcp', portName: 'app', host: '127.0.0.1', port: echo.port }], { relayName: hyco, log: silentLogger(), connectTimeoutMs: 5000 });

  test('bridge -L: two lost connections, the third try carries the data intact', async () => {
    const listener = await flakyListener(relay, 'rb-bridge', 2, azbridge('rb-bridge'));
    const port = await freePort();
    const local = await startBridge(['-x', relay.connectionString(), '-L', `${port}/app:rb-bridge`]);
    const result = await trickleExchange(port, 1, 64 * 1024);
    assert.ok(result.ok, result.error);
    assert.ok(echo.ids.has(1));
    assert.equal(listener.seen, 3);
    await local.waitForOutput(/relayed connection lost before the remote side answered; trying again .*retry=2/);
    await local.stop();
    await listener.close();
  });

  test('bridge -L: retries are bounded (1 + 3 tries), then the client is closed with the reason logged', async () => {
    const listener = await flakyListener(relay, 'rb-bridge-max', 100, azbridge('rb-bridge-max'));
    const port = await freePort();
    const local = await startBridge(['-x', relay.connectionString(), '-L', `${port}/app:rb-bridge-max`]);
    const closed = await expectClosed(port);
    assert.equal(closed.received, 0);
    await local.waitForOutput(/connection failed hyco=rb-bridge-max port=app .*end=relay-unavailable reason="no answer to the preamble: relayed connection lost/);
    assert.equal(listener.seen, 4);
    await local.stop();
    await listener.close();
  });

  test('bridge -L: a clean close without reply (azbridge: no such port) is not retried', async () => {
    const listener = await flakyListener(relay, 'rb-bridge-clean', 100, azbridge('rb-bridge-clean'), 'close-cleanly');
    const port = await freePort();
    const local = await startBridge(['-x', relay.connectionString(), '-L', `${port}/app:rb-bridge-clean`]);
    await expectClosed(port);
    await local.waitForOutput(/connection failed .*end=refused reason="the remote side closed without answering/);
    assert.equal(listener.seen, 1);
    assert.doesNotMatch(local.output(), /trying again/);
    await local.stop();
    await listener.close();
  });

  test('relay-sender port-forward: a connection lost before the ConnectResponse is tried again', async () => {
    const aztunnel = createAztunnelHandler({ allowlist: Allowlist.parse([`127.0.0.1:${echo.port}`]), connectTimeoutMs: 5000, tcpKeepAliveMs: 0, listenerId: 'flaky' });
    const listener = await flakyListener(relay, 'rb-tunnel', 1, aztunnel);
    const port = await freePort();
    const sender = spawnHybridge(['relay-sender', 'port-forward', `127.0.0.1:${echo.port}`, '-x', relay.connectionString('rb-tunnel'), '-b', `127.0.0.1:${port}`], { env: bridgeEnv() });
    await sender.waitForOutput(/listening on/);
    const result = await trickleExchange(port, 2, 64 * 1024);
    assert.ok(result.ok, result.error);
    assert.ok(echo.ids.has(2));
    await waitFor(() => listener.seen === 2, 2000, 'two connections at the listener');
    await sender.waitForOutput(/relayed connection lost before the listener answered; trying again .*retry=1/);
    await sender.stop();
    await listener.close();
  });
});
