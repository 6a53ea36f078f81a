import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BridgeHost } from '../../src/bridge/bridge-host.js';
import { loadBridgeConfig } from '../../src/bridge/config/index.js';
import { freePort, waitFor } from '../helpers/async.js';
import { capturingLogger } from '../helpers/capturing-logger.js';
import { capturingLogger as capturingRelayLogger, startRelay, type TestRelay } from '../helpers/relay.js';
import { closeAll, startUdpEcho, udpClient } from './bridge-kit.js';

describe('UDP flows expire when idle (in process, short idle time)', () => {
  let relay: TestRelay;
  const relayLog = capturingRelayLogger();
  before(async () => {
    relay = await startRelay({ hybridConnections: ['su-idle', 'su-idle-mux'], log: relayLog.log });
  });
  after(async () => {
    await closeAll();
    await relay?.stop();
  });

  /** bridge -T to a UDP echo and bridge -L on a free port for `hyco`, in process, both with a 300 ms UDP idle time. */
  async function startIdlePair(hyco: string, mux?: number) {
    const echo = await startUdpEcho();
    const port = await freePort();
    const input = { machineConfigPath: null, userConfigPath: null, env: {}, connectionString: relay.connectionString() };
    const remoteLog = capturingLogger();
    const localLog = capturingLogger();
    const remote = new BridgeHost(loadBridgeConfig({ ...input, remoteForward: [`${hyco}:dns/127.0.0.1:${echo.port}U`] }), { log: remoteLog.log, udpIdleMs: 300 });
    const local = new BridgeHost(loadBridgeConfig({ ...input, localForward: [`${port}U/dns:${hyco}`], ...(mux ? { mux } : {}) }), { log: localLog.log, udpIdleMs: 300 });
    await remote.start();
    await local.start();
    return { port, remote, local, remoteLog, localLog };
  }

  test('both ends end an idle flow and log it; the next datagram opens a new flow', async () => {
    const { port, remote, local, remoteLog, localLog } = await startIdlePair('su-idle');
    try {
      const client = await udpClient();
      client.send(Buffer.from('one'), port);
      await waitFor(() => client.received.length === 1, 5000, 'first echo');
      // Both timers run out about together; whichever side's close arrives first, the other logs it as closed.
      const ended = (lines: string[], how: RegExp) => lines.some((l) => /"msg":"connection ended"/.test(l) && how.test(l));
      const endedAtAll = /"end":"(idle|closed)"/;
      await waitFor(() => ended(localLog.lines, endedAtAll) && ended(remoteLog.lines, endedAtAll), 5000, 'both sides ended the idle flow');
      assert.ok(ended(localLog.lines, /"end":"idle"/) || ended(remoteLog.lines, /"end":"idle"/), 'at least one side ended it for being idle');
      assert.equal(local.lifecycle.size, 0);
      client.send(Buffer.from('two'), port);
      await waitFor(() => client.received.length === 2, 5000, 'a new flow after expiry');
      assert.equal(client.received[1]!.toString(), 'two');
    } finally {
      await local.stop(0);
      await remote.stop(0);
    }
  });

  test('over a multiplexed session, an idle flow closes its stream at both ends; the session stays and carries the next flow', async () => {
    const { port, remote, local, remoteLog, localLog } = await startIdlePair('su-idle-mux', 1);
    const streamEnds = (lines: string[], stream: number) => lines.filter((l) => /"msg":"connection ended"/.test(l) && new RegExp(`"trackingId":"[^"]+/${stream}"`).test(l) && /"end":"(idle|closed)"/.test(l)).length;
    try {
      await waitFor(() => localLog.lines.some((l) => /multiplexed session open/.test(l)), 10_000, 'session');
      const client = await udpClient();
      client.send(Buffer.from('one'), port);
      await waitFor(() => client.received.length === 1, 5000, 'first echo');
      // Stream 1 of the session ends at both ends: the -L flow and the stream the -T served.
      await waitFor(() => streamEnds(localLog.lines, 1) === 1 && streamEnds(remoteLog.lines, 1) === 1, 5000, 'both ends closed the idle stream');
      assert.equal(local.lifecycle.size, 0);
      client.send(Buffer.from('two'), port);
      await waitFor(() => client.received.length === 2, 5000, 'a new flow after expiry');
      assert.equal(client.received[1]!.toString(), 'two');
      await waitFor(() => streamEnds(localLog.lines, 3) === 1 && streamEnds(remoteLog.lines, 3) === 1, 5000, 'the second flow was stream 3 of the same session, and expired too');
      assert.equal(localLog.lines.filter((l) => /multiplexed session (open|ended|closed)/.test(l)).length, 1, 'one session, still open');
      assert.equal(relayLog.records.filter((r) => r.msg === 'connection ended' && r.hyco === 'su-idle-mux').length, 0, 'no rendezvous ended: no flow had one of its own');
    } finally {
      await local.stop(0);
      await remote.stop(0);
    }
  });
});
