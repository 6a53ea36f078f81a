/**
 * A local UDP forwarder carries at most MaxUdpFlows flows (one relayed connection each): datagrams
 * from further client endpoints are dropped with one throttled log line, so a crowd of (possibly
 * spoofed) source addresses cannot open relayed connections without end.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BridgeHost } from '../../src/bridge/bridge-host.js';
import { loadBridgeConfig } from '../../src/bridge/config/index.js';
import { delay, freePort, waitFor } from '../helpers/async.js';
import { capturingLogger } from '../helpers/capturing-logger.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { closeAll, startUdpEcho, udpClient } from './bridge-kit.js';

describe('UDP flows per local forwarder are limited (in process)', () => {
  let relay: TestRelay;
  before(async () => {
    relay = await startRelay({ hybridConnections: ['su-limit'] });
  });
  after(async () => {
    await closeAll();
    await relay?.stop();
  });

  test('with MaxUdpFlows 3, 8 clients get 3 flows; the other 5 are dropped with one log line', async () => {
    const echo = await startUdpEcho();
    const port = await freePort();
    const input = { machineConfigPath: null, userConfigPath: null, env: {}, connectionString: relay.connectionString() };
    const localLog = capturingLogger();
    const remote = new BridgeHost(loadBridgeConfig({ ...input, remoteForward: [`su-limit:dns/127.0.0.1:${echo.port}U`] }), { log: capturingLogger().log });
    const local = new BridgeHost(loadBridgeConfig({ ...input, options: ['MaxUdpFlows:3'], localForward: [`${port}U/dns:su-limit`] }), { log: localLog.log });
    await remote.start();
    await local.start();
    try {
      const clients = await Promise.all(Array.from({ length: 8 }, () => udpClient()));
      for (const [i, client] of clients.entries()) {
        client.send(Buffer.from(`hello ${i}`), port);
        if (i < 3) await waitFor(() => client.received.length === 1, 5000, `echo for client ${i}`);
      }
      for (let round = 0; round < 5; round++) for (const client of clients.slice(3)) client.send(Buffer.from('again'), port);
      await delay(500);
      assert.deepEqual(clients.map((c) => c.received.length), [1, 1, 1, 0, 0, 0, 0, 0], 'only the first three clients were served');
      assert.equal(echo.senders.size, 3, 'the remote side opened three flows');
      const limitLines = localLog.lines.filter((l) => l.includes('UDP flow limit reached'));
      assert.equal(limitLines.length, 1, 'one throttled line for 30 dropped datagrams');
      assert.match(limitLines[0]!, /"limit":3,"dropped":1/);
      clients[0]!.send(Buffer.from('still served'), port);
      await waitFor(() => clients[0]!.received.length === 2, 5000, 'an existing flow goes on');
    } finally {
      await local.stop(0);
      await remote.stop(0);
    }
  });

  test('the limit is checked: MaxUdpFlows 0 and --max-udp-flows abc are configuration errors', () => {
    const input = { machineConfigPath: null, userConfigPath: null, env: {}, connectionString: relay.connectionString() };
    assert.throws(() => loadBridgeConfig({ ...input, options: ['MaxUdpFlows:0'] }), /MaxUdpFlows 0 is out of range 1\.\.100000/);
    assert.throws(() => loadBridgeConfig({ ...input, maxUdpFlows: 'abc' }), /--max-udp-flows "abc": MaxUdpFlows must be a whole number/);
    assert.equal(loadBridgeConfig(input).maxUdpFlows, 1000, 'the default');
  });
});
