/**
 * A real Prometheus (Debian's package) scrapes the relay (its --metrics-addr, and GET
 * /$hybridge/metrics on the relay port with a Manage SAS token) and both ends of a bridge
 * (-L with --metrics-addr, -T with --metrics-addr) while a SHA-256-checked transfer runs; the
 * series are then read back through Prometheus's HTTP API: connection counts exact, byte counters
 * equal to the bytes moved (the relay's also count the azbridge preamble and its reply).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { encodePreamble, encodePreambleReply, PreambleMode } from '../../src/protocol/azbridge-preamble.js';
import { createSasToken, normalizeAudience } from '../../src/protocol/sas-token.js';
import { closeAll, digestOf, exchange, startBridge, startEchoTarget, type TcpTarget } from '../bridge/bridge-kit.js';
import { freePort, readAll, waitFor } from '../helpers/async.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { stopAll, type RunningProcess } from '../helpers/processes.js';
import { startPrometheus, type TestPrometheus } from '../helpers/prometheus.js';
import { connectionString, ROOT_RULE, startServer, type ServerProcess } from '../relay/management-cli-kit.js';

const ROOT_KEY = 'prometheus-test-root-key-0123456789';
const HYCO = 'pm';
const PORT_NAME = 'db';
const MiB = 1024 * 1024;

describe('Prometheus scrapes the relay and both ends (processes)', { timeout: 90_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'hybridge-prometheus-test-'));
  let relay: ServerProcess;
  let echo: TcpTarget;
  let prometheus: TestPrometheus;
  let localPort: number;
  const ports = { relayMetrics: 0, listener: 0, sender: 0 };
  const ends: RunningProcess[] = [];

  before(async () => {
    for (const name of Object.keys(ports) as (keyof typeof ports)[]) ports[name] = await freePort();
    localPort = await freePort();
    relay = await startServer(['--data', join(dir, 'relay'), '--root-key', ROOT_KEY, '--hyco', HYCO, '--metrics-addr', `127.0.0.1:${ports.relayMetrics}`]);
    echo = await startEchoTarget();
    const cs = connectionString(relay.port, ROOT_RULE, ROOT_KEY);
    ends.push(await startBridge(['-x', cs, '-T', `${HYCO}:${PORT_NAME}/127.0.0.1:${echo.port}`, '--metrics-addr', `127.0.0.1:${ports.listener}`]));
    ends.push(await startBridge(['-x', cs, '-L', `${localPort}/${PORT_NAME}:${HYCO}`, '--metrics-addr', `127.0.0.1:${ports.sender}`]));
    const token = createSasToken(normalizeAudience('127.0.0.1', ''), ROOT_RULE, ROOT_KEY, Math.floor(Date.now() / 1000) + 3600);
    prometheus = await startPrometheus([
      { job: 'relay', target: `127.0.0.1:${ports.relayMetrics}` },
      { job: 'relay-port', target: `127.0.0.1:${relay.port}`, metricsPath: '/$hybridge/metrics', authorization: { type: 'SharedAccessSignature', credentials: token.replace(/^SharedAccessSignature /, '') } },
      { job: 'listener', target: `127.0.0.1:${ports.listener}` },
      { job: 'sender', target: `127.0.0.1:${ports.sender}` },
    ]);
  });

  after(async () => {
    await prometheus?.stop();
    await stopAll();
    await closeAll();
    rmSync(dir, { recursive: true, force: true });
  });

  test('connection counts, active connections and byte counters match the transfer exactly', async () => {
    await prometheus.waitForValue('sum(up)', 4, 20_000);

    // One connection stays open while Prometheus looks: it is active on the relay and on both ends.
    const held = connect({ port: localPort, host: '127.0.0.1', allowHalfOpen: true });
    await once(held, 'connect');
    const heldPayload = patternBytes(64 * 1024, 7);
    const heldEcho = readAll(held);
    held.write(heldPayload);
    await prometheus.waitForValue('hybridge_relay_active_connections{job="relay",entity="pm"}', 1);
    await prometheus.waitForValue('hybridge_relay_active_connections{job="relay-port",entity="pm"}', 1);
    await prometheus.waitForValue('sum(aztunnel_active_connections{job="sender"})', 1);
    await prometheus.waitForValue('sum(aztunnel_active_connections{job="listener"})', 1);
    await prometheus.waitForValue('hybridge_control_channel_online{job="listener",hyco="pm"}', 1);
    await prometheus.waitForValue('hybridge_relay_active_listeners{job="relay",entity="pm"}', 1);

    const payloads = [1, 2, 3].map((seed) => patternBytes(MiB, seed));
    const results = await Promise.all(payloads.map((p) => exchange({ port: localPort }, p)));
    for (const [i, r] of results.entries()) assert.deepEqual({ length: r.length, sha256: r.sha256 }, digestOf(payloads[i]!), `transfer ${i} came back intact`);
    held.end();
    const heldBack = await heldEcho;
    assert.equal(sha256(heldBack), sha256(heldPayload));

    const moved = 3 * MiB + heldPayload.length;
    const connections = 4;
    const preamble = encodePreamble({ mode: PreambleMode.Stream, portName: PORT_NAME }).length;
    const reply = encodePreambleReply({ kind: 'accepted', mode: PreambleMode.Stream }).length;

    // Ends: what the lifecycle counted, as aztunnel's and hybridge's series.
    await prometheus.waitForValue('sum(hybridge_connections_total{job="sender",role="sender",result="closed"})', connections);
    await prometheus.waitForValue('sum(hybridge_connections_total{job="listener",role="listener",result="closed"})', connections);
    await prometheus.waitForValue('sum(aztunnel_connections_total{job="sender",status="success"})', connections);
    await prometheus.waitForValue('sum(aztunnel_connections_total{job="listener",status="success"})', connections);
    for (const job of ['sender', 'listener']) {
      await prometheus.waitForValue(`hybridge_connection_bytes_total{job="${job}",direction="to_listener"}`, moved);
      await prometheus.waitForValue(`hybridge_connection_bytes_total{job="${job}",direction="to_sender"}`, moved);
      await prometheus.waitForValue(`sum(aztunnel_bytes_total{job="${job}",direction="to_relay"})`, moved);
      await prometheus.waitForValue(`sum(aztunnel_bytes_total{job="${job}",direction="from_relay"})`, moved);
      await prometheus.waitForValue(`sum(aztunnel_active_connections{job="${job}"}) or vector(0)`, 0);
      await prometheus.waitForValue(`aztunnel_connection_duration_seconds_count{job="${job}",role="${job}",target="${job === 'sender' ? PORT_NAME : `tcp:127.0.0.1:${echo.port}`}"}`, connections);
    }

    // aztunnel's token fetches: the listener's one at connect, one per sender connection.
    await prometheus.waitForValue('aztunnel_token_fetch_total{job="listener",provider="sas",result="ok"}', 1);
    await prometheus.waitForValue('aztunnel_token_fetch_total{job="sender",provider="sas",result="ok"}', connections);
    await prometheus.waitForValue('aztunnel_token_fetch_seconds_count{job="sender",provider="sas",result="ok"}', connections);

    // The relay: Azure Relay's metric set, on both of its endpoints.
    for (const job of ['relay', 'relay-port']) {
      await prometheus.waitForValue(`hybridge_relay_sender_connections_total{job="${job}",entity="pm",result="success"}`, connections);
      await prometheus.waitForValue(`hybridge_relay_sender_disconnects_total{job="${job}",entity="pm"}`, connections);
      await prometheus.waitForValue(`hybridge_relay_listener_connections_total{job="${job}",entity="pm",result="success"}`, 1);
      await prometheus.waitForValue(`hybridge_relay_bytes_transferred_total{job="${job}",entity="pm",direction="to_listener"}`, moved + connections * preamble);
      await prometheus.waitForValue(`hybridge_relay_bytes_transferred_total{job="${job}",entity="pm",direction="to_sender"}`, moved + connections * reply);
      await prometheus.waitForValue(`hybridge_relay_setup_seconds_count{job="${job}"}`, connections);
      await prometheus.waitForValue(`hybridge_relay_active_connections{job="${job}",entity="pm"} or vector(0)`, 0);
    }
    const process = await prometheus.query('process_resident_memory_bytes{job="relay"}');
    assert.ok(process.length === 1 && process[0]!.value > 0, 'process metrics are there');
  });

  test('the relay port refuses /$hybridge/metrics without a Manage token', async () => {
    const response = await fetch(`http://127.0.0.1:${relay.port}/$hybridge/metrics`);
    assert.equal(response.status, 401);
    const wrong = createSasToken(normalizeAudience('127.0.0.1', ''), ROOT_RULE, 'not-the-key-at-all-0123456789', Math.floor(Date.now() / 1000) + 60);
    assert.equal((await fetch(`http://127.0.0.1:${relay.port}/$hybridge/metrics`, { headers: { Authorization: wrong } })).status, 401);
    await waitFor(async () => (await prometheus.query('sum(hybridge_relay_auth_failures_total{job="relay",role="management"})'))[0]?.value === 2, 10_000, 'the refusals are counted');
  });
});
