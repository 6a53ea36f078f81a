/**
 * A bridge -T whose relay goes away while prewarmed connections from a bridge -L wait for their
 * first message: each of those connections ends with a logged reason, and the listener keeps
 * running and reconnects (an unhandled stream error used to end the process).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { closeAll, startBridge, startEchoTarget } from './bridge-kit.js';
import { freePort, waitFor } from '../helpers/async.js';
import { stopAll, type RunningProcess } from '../helpers/processes.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { relayedOn } from '../relay/protocol-peers.js';

describe('bridge -T losing its relay under prewarmed connections (processes)', { timeout: 60_000 }, () => {
  let relay: TestRelay;
  let listener: RunningProcess;

  before(async () => {
    relay = await startRelay({ hybridConnections: ['lost'] });
    const echo = await startEchoTarget();
    listener = await startBridge(['-x', relay.connectionString(), '-T', `lost:${echo.port}`]);
    await startBridge(['-x', relay.connectionString(), '-L', `${await freePort()}:lost`, '--prewarm', '2']);
  });
  after(async () => {
    await stopAll();
    await closeAll();
    await relay?.stop();
  });

  test('the waiting connections end with a reason; the listener carries on', async () => {
    await waitFor(() => relayedOn(relay, 'lost') === 2, 10_000, 'two prewarmed connections paired');
    await relay.server.stop(0);
    const alive = () => assert.equal(listener.child.exitCode, null, `the listener ended:\n${listener.output()}`);
    await waitFor(() => alive() ?? listener.output().match(/connection failed[^\n]*end=relay-error reason="no first message/g)?.length === 2, 10_000, 'both waiting connections ended with their reason');
    await listener.waitForOutput(/relay listener problem[^\n]*cannot reach the relay/, 10_000);
    alive();
    assert.doesNotMatch(listener.output(), /Unhandled 'error' event/);
  });
});
