/**
 * One wait policy for every end (docs/tunnel.md, docs/bridge.md "Waiting for the relay"):
 * - senders (relay-sender, bridge -L) fail at once when no retry can help (nothing listens at the
 *   relay's address, TLS towards a plain relay), and otherwise wait up to 30 s for a listener,
 *   saying what they wait for and reporting progress, then carry the connection once it is there;
 * - listeners (relay-listener, bridge -T) stop with exit code 1 when the credentials are refused
 *   three times in a row or the hybrid connection is deleted.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { bridgeEnv, exchange } from '../bridge/bridge-kit.js';
import { freePort, withTimeout } from '../helpers/async.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { spawnHybridge, stopAll, waitExit } from '../helpers/processes.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { cleanEnv, oneLine, runCli } from '../relay/management-cli-kit.js';
import { echoServer, tunnelEnv, type TestServer } from '../tunnel/tunnel-kit.js';

describe('waiting for the relay and the listener', () => {
  let relay: TestRelay;
  let echo: TestServer;

  before(async () => {
    relay = await startRelay({ hybridConnections: ['rw-tunnel', 'rw-bridge', 'rw-revoked', 'rw-deleted', 'rw-listener-deleted'] });
    echo = await echoServer();
  });
  after(async () => {
    await stopAll();
    await echo.close();
    await relay.stop();
  });

  test('a relay that refuses the TCP connection fails relay-sender connect at once, not after the 30 s budget', async () => {
    const port = await freePort();
    const proc = spawnHybridge(['relay-sender', 'connect', '127.0.0.1:9', '--relay', `ws://127.0.0.1:${port}`, '--hyco', 'x'], { env: tunnelEnv() });
    proc.child.stdin!.end();
    const code = await withTimeout(proc.exited, 10_000, 'relay-sender connect against a closed port');
    assert.equal(code, 1);
    assert.equal(
      oneLine(proc.output()),
      `hybridge: relay-sender connect: no tunnel to 127.0.0.1:9: connecting to "x": cannot reach the relay at 127.0.0.1:${port} (connection refused); is it running, and is the port right?`,
    );
  });

  test('TLS towards a plain relay is one line that says so (bridge -T, exit 1)', async () => {
    const cs = relay.connectionString().replace('Endpoint=ws://', 'Endpoint=sb://');
    const proc = spawnHybridge(['bridge', '-x', cs, '-T', 'rw-bridge:127.0.0.1:9'], { env: bridgeEnv() });
    assert.equal(await waitExit(proc, 15_000), 1);
    assert.equal(
      oneLine(proc.output()),
      `hybridge: relay rw-bridge (-T rw-bridge:127.0.0.1:9): listening on "rw-bridge": the relay at 127.0.0.1:${relay.port} does not speak TLS; for a plain relay use a ws:// (or http://) endpoint instead of sb://, wss:// or https://`,
    );
  });

  test('relay-sender port-forward waits for a listener, says so, and carries the tunnel once one is online', async () => {
    const sender = spawnHybridge(['relay-sender', 'port-forward', `127.0.0.1:${echo.port}`, '--relay', relay.wsBase, '--hyco', 'rw-tunnel', '-b', '127.0.0.1:0'], { env: tunnelEnv() });
    const port = Number((await sender.waitForOutput(/listening on 127\.0\.0\.1:(\d+), forwarding/))[1]);
    const payload = patternBytes(300_000, 7);
    const reply = exchange({ port }, payload, 40_000);
    await sender.waitForOutput(/WARN\s+waiting for a listener on "rw-tunnel" \(none is online\); retrying for up to 30 s/);
    await sender.waitForOutput(/WARN\s+still waiting for a listener on "rw-tunnel" \(none is online\) \(\d+ s of 30 s\)/, 12_000);
    const listener = spawnHybridge(['relay-listener', '--relay', relay.wsBase, '--hyco', 'rw-tunnel', '--allow', `127.0.0.1:${echo.port}`], { env: tunnelEnv() });
    await listener.waitForOutput(/listener online/);
    const got = await reply;
    assert.deepEqual([got.length, got.sha256], [payload.length, sha256(payload)]);
    await sender.stop();
    await listener.stop();
  });

  test('bridge -L waits for its remote forwarder the same way (ConnectionAttempts not set)', async () => {
    const port = await freePort();
    const local = spawnHybridge(['bridge', '-x', relay.connectionString(), '-L', `127.0.0.1:${port}:rw-bridge`], { env: bridgeEnv() });
    await local.waitForOutput(/bridge ready/);
    const payload = patternBytes(200_000, 9);
    const reply = exchange({ port }, payload, 40_000);
    await local.waitForOutput(/WARN\s+waiting for a listener on "rw-bridge" \(none is online\); retrying for up to 30 s/);
    const remote = spawnHybridge(['bridge', '-x', relay.connectionString(), '-T', `rw-bridge:127.0.0.1:${echo.port}`], { env: bridgeEnv() });
    await remote.waitForOutput(/relay listener online/);
    const got = await reply;
    assert.deepEqual([got.length, got.sha256], [payload.length, sha256(payload)]);
    await local.stop();
    await remote.stop();
  });

  test('relay-listener with refused credentials stops after 3 tries with exit 1', async () => {
    const proc = spawnHybridge(['relay-listener', '--relay', relay.wsBase, '--hyco', 'rw-tunnel', '--allow', '*'], { env: tunnelEnv({ AZTUNNEL_KEY: 'a-wrong-key-for-this-relay' }) });
    assert.equal(await waitExit(proc, 20_000), 1);
    const output = proc.output();
    assert.equal(output.match(/WARN\s+relay problem .*authorization failed \(401/g)?.length, 3, output);
    assert.match(output, /\nhybridge: relay-listener: listening on "rw-tunnel": authorization failed \(401 [^\n]*\)\n$/);
    assert.ok(!output.includes('a-wrong-key-for-this-relay'));
  });

  test('bridge -T exits 1 when its key is revoked while it runs, and when its hybrid connection is deleted', async () => {
    const x = ['-x', relay.connectionString()];
    const created = await runCli(['hyco', 'authorization-rule', 'create', '--hybrid-connection-name', 'rw-revoked', '-n', 'listen', '--rights', 'Listen', ...x], cleanEnv());
    assert.equal(created.code, 0, created.stderr);
    const cs = JSON.parse((await runCli(['hyco', 'authorization-rule', 'keys', 'list', '--hybrid-connection-name', 'rw-revoked', '-n', 'listen', ...x], cleanEnv())).stdout).primaryConnectionString as string;
    const revoked = spawnHybridge(['bridge', '-x', cs, '-T', 'rw-revoked:127.0.0.1:9'], { env: bridgeEnv() });
    await revoked.waitForOutput(/relay listener online/);
    assert.equal((await runCli(['hyco', 'authorization-rule', 'keys', 'renew', '--hybrid-connection-name', 'rw-revoked', '-n', 'listen', '--key', 'PrimaryKey', ...x], cleanEnv())).code, 0);
    assert.equal(await waitExit(revoked, 20_000), 1);
    assert.match(revoked.output(), /\nhybridge: relay rw-revoked \(-T rw-revoked:127\.0\.0\.1:9\): listening on "rw-revoked": authorization failed \(401 [^\n]*\)\n$/);

    const deleted = spawnHybridge(['bridge', ...x, '-T', 'rw-deleted:127.0.0.1:9'], { env: bridgeEnv() });
    await deleted.waitForOutput(/relay listener online/);
    assert.equal((await runCli(['hyco', 'delete', '-n', 'rw-deleted', ...x], cleanEnv())).code, 0);
    assert.equal(await waitExit(deleted, 15_000), 1);
    assert.match(deleted.output(), /\nhybridge: relay rw-deleted \(-T rw-deleted:127\.0\.0\.1:9\): listening on "rw-deleted": hybrid connection deleted \(404\)\n$/);

    const tunnel = spawnHybridge(['relay-listener', '--relay', relay.wsBase, '--hyco', 'rw-listener-deleted', '--allow', '*'], { env: tunnelEnv() });
    await tunnel.waitForOutput(/listener online/);
    assert.equal((await runCli(['hyco', 'delete', '-n', 'rw-listener-deleted', ...x], cleanEnv())).code, 0);
    assert.equal(await waitExit(tunnel, 15_000), 1);
  });

  test('a hybrid connection that does not exist fails the client connection at once (no wait)', async () => {
    const port = await freePort();
    const local = spawnHybridge(['bridge', '-x', relay.connectionString(), '-L', `127.0.0.1:${port}:rw-deleted-never`], { env: bridgeEnv() });
    await local.waitForOutput(/bridge ready/);
    const socket = connect(port, '127.0.0.1');
    await local.waitForOutput(/connection failed hyco=rw-deleted-never .*end=relay-unavailable .*does not exist/);
    socket.destroy();
    await local.stop();
  });
});
