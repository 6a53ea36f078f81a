/**
 * `hybridge relay-listener` and `hybridge relay-sender port-forward` as real processes through the
 * hybridge relay: bytes both ways, half-close, a sender waiting for a (re)starting listener, a
 * control-channel cut under live tunnels, SIGTERM drains, --max-connections and --prewarm.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createConnection } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { delay, withTimeout } from '../helpers/async.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { spawnHybridge, waitExit } from '../helpers/processes.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { readExactly } from '../shared/read-exactly.js';
import { answerAfterEofServer, exchange, KiB, MiB, roundTrip, runConnectWithoutInput, startListener, startPortForward, tunnelEnv, useTunnelSuite, type TestServer } from '../tunnel/tunnel-kit.js';

const HYCOS = ['pf-bytes', 'pf-halfclose', 'pf-restart', 'pf-cut', 'pf-drain', 'pf-capacity', 'pf-prewarm'];

describe('relay-sender port-forward through relay-listener (processes)', () => {
  let relay: TestRelay;
  let echo: TestServer;
  useTunnelSuite(HYCOS, (suite) => ({ relay, echo } = suite));

  it('carries bytes both ways on parallel connections, every byte checked', async () => {
    const target = `127.0.0.1:${echo.port}`;
    const [, pf] = await Promise.all([startListener(relay, 'pf-bytes', ['--allow', target]), startPortForward(relay, 'pf-bytes', target)]);
    const payloads = [0, 1, 2, 3].map((i) => patternBytes(MiB + i * 4099, 20 + i));
    const results = await Promise.all(payloads.map((p) => roundTrip(pf.port, p)));
    results.forEach((r, i) => {
      assert.equal(r.received.length, payloads[i]!.length);
      assert.equal(r.sha256, sha256(payloads[i]!));
    });
  });

  it('carries half-close: the client shuts down its write side and still gets the full reply', async () => {
    const reply = patternBytes(512 * KiB, 31);
    const server = await answerAfterEofServer(reply);
    try {
      const target = `127.0.0.1:${server.port}`;
      const [, pf] = await Promise.all([startListener(relay, 'pf-halfclose', ['--allow', target]), startPortForward(relay, 'pf-halfclose', target)]);
      const request = patternBytes(300 * KiB, 32);
      const { received } = await roundTrip(pf.port, request);
      const header = `${request.length} ${sha256(request)}\n`;
      assert.equal(received.subarray(0, header.length).toString(), header, 'the target saw the whole request and its end');
      assert.equal(received.length, header.length + reply.length);
      assert.equal(sha256(received.subarray(header.length)), sha256(reply));
    } finally {
      await server.close();
    }
  });

  it('waits for a listener that is not there yet, and survives a listener restart, within the retry budget', async () => {
    const target = `127.0.0.1:${echo.port}`;
    const pf = await startPortForward(relay, 'pf-restart', target);
    const early = patternBytes(100 * KiB, 41);
    const pending = roundTrip(pf.port, early, 25_000);
    await delay(800);
    let listener = await startListener(relay, 'pf-restart', ['--allow', target]);
    assert.equal((await pending).sha256, sha256(early), 'the connection made before the listener existed went through');

    listener.child.kill('SIGKILL');
    await waitExit(listener);
    const during = patternBytes(100 * KiB, 42);
    const waiting = roundTrip(pf.port, during, 25_000);
    await delay(300);
    listener = await startListener(relay, 'pf-restart', ['--allow', target]);
    assert.equal((await waiting).sha256, sha256(during), 'the connection made while the listener restarted went through');
    await listener.stop('SIGTERM');
  });

  it('keeps live tunnels intact when the control channel is cut', async () => {
    const target = `127.0.0.1:${echo.port}`;
    const [listener, pf] = await Promise.all([startListener(relay, 'pf-cut', ['--allow', target]), startPortForward(relay, 'pf-cut', target)]);
    const sockets = [0, 1, 2].map(() => createConnection({ host: '127.0.0.1', port: pf.port, allowHalfOpen: true }));
    const first = patternBytes(256 * KiB, 51);
    for (const socket of sockets) {
      socket.write(first);
      assert.equal(sha256(await readExactly(socket, first.length)), sha256(first));
    }
    for (const channel of relay.server.registry.channels('pf-cut')) channel.conn.destroy();
    await listener.waitForOutput(/listener online .*reconnected=true/, 10_000);
    const second = patternBytes(768 * KiB, 52);
    const results = await Promise.all(sockets.map((s) => withTimeout(exchange(s, second), 20_000, 'second half')));
    for (const r of results) assert.equal(r.sha256, sha256(second), 'the tunnel carried on after the reconnect');
    assert.equal((await roundTrip(pf.port, first)).sha256, sha256(first), 'a new tunnel works too');
    assert.doesNotMatch(listener.output(), /end=(relay|local)-error/);
  });

  it('drains on SIGTERM: open tunnels finish, then both ends exit 0', async () => {
    const target = `127.0.0.1:${echo.port}`;
    const [listener, pf] = await Promise.all([startListener(relay, 'pf-drain', ['--allow', target, '--drain-timeout', '20s']), startPortForward(relay, 'pf-drain', target, ['--drain-timeout', '20s'])]);
    const socket = createConnection({ host: '127.0.0.1', port: pf.port, allowHalfOpen: true });
    const first = patternBytes(128 * KiB, 61);
    socket.write(first);
    assert.equal(sha256(await readExactly(socket, first.length)), sha256(first));

    listener.child.kill('SIGTERM');
    pf.proc.child.kill('SIGTERM');
    await listener.waitForOutput(/no longer accepting; waiting for open tunnels to finish open=1/, 5000);
    await pf.proc.waitForOutput(/no longer accepting; waiting for open connections to finish open=1/, 5000);
    await delay(300);
    assert.equal(listener.child.exitCode, null, 'the listener waits for the open tunnel');
    await assert.rejects(
      new Promise((resolve, reject) => createConnection({ host: '127.0.0.1', port: pf.port }).once('connect', resolve).once('error', reject)),
      /ECONNREFUSED/,
      'the port-forward no longer accepts',
    );
    const second = patternBytes(512 * KiB, 62);
    assert.equal((await withTimeout(exchange(socket, second), 20_000, 'finishing the tunnel')).sha256, sha256(second));
    assert.equal(await waitExit(listener, 10_000), 0);
    assert.equal(await waitExit(pf.proc, 10_000), 0);
  });

  it('refuses beyond --max-connections at once, with an explicit reason', async () => {
    const target = `127.0.0.1:${echo.port}`;
    const [listener, pf] = await Promise.all([startListener(relay, 'pf-capacity', ['--allow', target, '--max-connections', '1']), startPortForward(relay, 'pf-capacity', target)]);
    const held = createConnection({ host: '127.0.0.1', port: pf.port, allowHalfOpen: true });
    held.write('x');
    await readExactly(held, 1);
    const started = Date.now();
    const connect = await runConnectWithoutInput(relay, 'pf-capacity', target, 10_000);
    assert.equal(connect.code, 1);
    const elapsed = Date.now() - started;
    assert.match(connect.output, /^hybridge: relay-sender connect: the listener is at its --max-connections limit; try again later \(max_connections\)\n$/);
    assert.ok(elapsed < 5000, `refused after ${elapsed} ms (process start included)`);
    assert.match(listener.output(), /connection failed .*end=at-capacity reason="tunnel refused: listener at capacity/);
    held.end();
    await once(held, 'end');
    held.destroy();
  });

  it('serves connections from a prewarmed pool (--prewarm)', async () => {
    const target = `127.0.0.1:${echo.port}`;
    const listener = await startListener(relay, 'pf-prewarm', ['--allow', target]);
    const pf = await startPortForward(relay, 'pf-prewarm', target, ['--prewarm', '2']);
    await delay(300);
    const payloads = [0, 1, 2].map((i) => patternBytes(64 * KiB + i, 70 + i));
    for (const p of payloads) assert.equal((await roundTrip(pf.port, p)).sha256, sha256(p));
    await pf.proc.stop('SIGTERM');
    await listener.stop('SIGTERM');
    assert.doesNotMatch(listener.output(), /connection handler failed/);
  });

  it('reaches a TLS relay: a connection string and AZTUNNEL_RELAY_INSECURE_TLS=1 on one end, --ca on the other', async () => {
    const tlsRelay = await startRelay({ tls: true, hybridConnections: ['pf-tls'] });
    try {
      const target = `127.0.0.1:${echo.port}`;
      const caFile = join(tlsRelay.dataDir, 'relay-ca.pem');
      writeFileSync(caFile, tlsRelay.ca!);
      const cs = tlsRelay.connectionString('pf-tls');
      assert.match(cs, /^Endpoint=sb:\/\//);
      const listener = spawnHybridge(['relay-listener', '--allow', target], {
        env: tunnelEnv({ HYBRIDGE_CONNECTION_STRING: cs, AZTUNNEL_KEY_NAME: undefined, AZTUNNEL_KEY: undefined, AZTUNNEL_RELAY_INSECURE_TLS: '1' }),
      });
      await listener.waitForOutput(/listener online hyco=pf-tls relay=sb:\/\/127\.0\.0\.1:\d+\//, 15_000);
      assert.match(listener.output(), /TLS certificate checks for the relay are off/);
      assert.match(listener.output(), /auth=connection-string/);
      const pf = spawnHybridge(['relay-sender', 'port-forward', target, '-b', '127.0.0.1:0', '--relay', `wss://127.0.0.1:${tlsRelay.port}`, '--hyco', 'pf-tls', '--ca', caFile], { env: tunnelEnv() });
      const port = Number((await pf.waitForOutput(/listening on 127\.0\.0\.1:(\d+),/))[1]);
      const payload = patternBytes(300 * KiB, 81);
      assert.equal((await roundTrip(port, payload)).sha256, sha256(payload));
      assert.doesNotMatch(listener.output() + pf.output(), /test-root-key/, 'no key in any log');
      await pf.stop('SIGTERM');
      await listener.stop('SIGTERM');
    } finally {
      await tlsRelay.stop();
    }
  });
});
