/**
 * The ends' own series that need a running bridge to move (processes, scraped from --metrics-addr):
 * target-pool member health as health checks see it, the prewarm pool's ready count, dial errors by
 * code for a target that refuses, and the control channel going offline and counting a reconnect
 * when the relay comes back.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { closeAll, startBridge, startEchoTarget, type TcpTarget } from '../bridge/bridge-kit.js';
import { distinctFreePortsBelowEphemeral, waitFor } from '../helpers/async.js';
import { stopAll, type RunningProcess } from '../helpers/processes.js';
import { seriesValue } from '../helpers/prometheus.js';
import { connectionString, ROOT_RULE, startServer, type ServerProcess } from '../relay/management-cli-kit.js';

const ROOT_KEY = 'end-metrics-test-root-key-0123456789';

describe('end metrics of a running bridge (processes)', { timeout: 90_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'hybridge-end-metrics-test-'));
  const relayArgs = (port: number) => ['--data', join(dir, 'relay'), '--root-key', ROOT_KEY, '--hyco', 'em', '--hyco', 'em-dead', '--port', String(port)];
  let relayPort: number;
  let relay: ServerProcess;
  let echo: TcpTarget;
  let deadPort: number;
  let listener: RunningProcess;
  const metricsPorts = { listener: 0, sender: 0 };
  const localPorts = { pool: 0, dead: 0 };

  const scrape = async (end: keyof typeof metricsPorts) => (await fetch(`http://127.0.0.1:${metricsPorts[end]}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const expectSeries = async (end: keyof typeof metricsPorts, series: string, expected: number, timeoutMs = 10_000) => {
    let text = '';
    try {
      await waitFor(async () => seriesValue((text = await scrape(end)), series) === expected, timeoutMs, series, 100);
    } catch (err) {
      assert.fail(`${end}: ${series} never was ${expected} (${(err as Error).message}); it was ${seriesValue(text, series)}:\n${text.split('\n').filter((l) => l.startsWith('hybridge_') || l.startsWith('aztunnel_')).join('\n')}`);
    }
  };

  before(async () => {
    // Ports listened on later (the relay is restarted on its port): distinct, and below the
    // ephemeral range, where other tests' outgoing connections cannot take them meanwhile.
    const ports = await distinctFreePortsBelowEphemeral(6);
    [relayPort, deadPort, metricsPorts.listener, metricsPorts.sender, localPorts.pool, localPorts.dead] = ports as [number, number, number, number, number, number];
    relay = await startServer(relayArgs(relayPort));
    echo = await startEchoTarget();
    const cs = connectionString(relay.port, ROOT_RULE, ROOT_KEY);
    listener = await startBridge(['-x', cs, '-T', `em:app/127.0.0.1:${echo.port};app/127.0.0.1:${deadPort}`, '-T', `em-dead:127.0.0.1:${deadPort}`, '--health-check', 'interval=200ms,timeout=200ms,fail=1,pass=1', '--metrics-addr', `127.0.0.1:${metricsPorts.listener}`]);
    await startBridge(['-x', cs, '-L', `${localPorts.pool}/app:em`, '-L', `${localPorts.dead}:em-dead`, '--prewarm', '2', '--metrics-addr', `127.0.0.1:${metricsPorts.sender}`]);
  });

  after(async () => {
    await stopAll();
    await closeAll();
    rmSync(dir, { recursive: true, force: true });
  });

  test('target health, the prewarm pool, dial errors by code', async () => {
    await expectSeries('listener', `hybridge_target_up{forwarder="em:app",target="tcp:127.0.0.1:${echo.port}"}`, 1);
    await expectSeries('listener', `hybridge_target_up{forwarder="em:app",target="tcp:127.0.0.1:${deadPort}"}`, 0);
    await expectSeries('sender', 'hybridge_prewarm_ready{forwarder="em"}', 2); // one pool per hybrid connection

    // A connection to the hybrid connection whose only target refuses: the listener's dial fails.
    const socket = connect({ port: localPorts.dead, host: '127.0.0.1' });
    socket.on('error', () => undefined);
    socket.write('x');
    await expectSeries('listener', 'hybridge_dial_errors_total{role="listener",code="connection_refused"}', 1);
    await expectSeries('listener', 'aztunnel_connection_errors_total{role="listener",reason="dial_failed"}', 1);
    socket.destroy();
  });

  test('the control channel goes offline with the relay and counts a reconnect when it is back', async () => {
    await expectSeries('listener', 'hybridge_control_channel_online{hyco="em"}', 1);
    await expectSeries('listener', 'aztunnel_control_channel_connected', 1);
    await relay.proc.stop();
    assert.equal(listener.child.exitCode, null, `the listener runs on: ${listener.output()}`);
    await expectSeries('listener', 'hybridge_control_channel_online{hyco="em"}', 0);
    await expectSeries('listener', 'aztunnel_control_channel_connected', 0);
    relay = await startServer(relayArgs(relayPort));
    await expectSeries('listener', 'hybridge_control_channel_online{hyco="em"}', 1, 30_000);
    await expectSeries('listener', 'hybridge_control_channel_reconnects_total{hyco="em"}', 1);
    await expectSeries('listener', 'aztunnel_control_channel_connected', 1, 30_000);
  });
});
