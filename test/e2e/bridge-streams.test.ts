import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { closeAll, digestOf, endBridgeSuite, exchange, expectClosed, startBridge, startEchoTarget, type TcpTarget } from '../bridge/bridge-kit.js';
import { distinctFreePortsBelowEphemeral, freePort, waitFor, withTimeout } from '../helpers/async.js';
import { Digest, patternBytes } from '../helpers/data.js';
import { stopAll, type RunningProcess } from '../helpers/processes.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';

const RELAYS = ['st-tcp', 'st-unix-in', 'st-unix-out', 'st-db', 'st-v6', 'st-half', 'st-mismatch', 'st-unreach'];

describe('hybridge bridge: TCP and Unix-socket streams (processes)', () => {
  let relay: TestRelay;
  const dir = mkdtempSync(join(tmpdir(), 'hybridge-bridge-streams-'));
  const targets: TcpTarget[] = [];
  let remote: RunningProcess;
  let local: RunningProcess;
  const ports: Record<string, number> = {};
  let echo: TcpTarget;
  let unixEcho: TcpTarget;
  let sql1: TcpTarget;
  let sql2: TcpTarget;
  let halfClose: { port: number; close(): Promise<void> };
  let closedPort: number;
  let hasIpv6 = true;

  before(async () => {
    relay = await startRelay({ hybridConnections: RELAYS });
    echo = await startEchoTarget();
    unixEcho = await startEchoTarget({ path: join(dir, 'target.sock') });
    sql1 = await startEchoTarget({}, Buffer.from('sql1:'));
    sql2 = await startEchoTarget({}, Buffer.from('sql2:'));
    targets.push(echo, unixEcho, sql1, sql2);
    halfClose = await startHalfCloseTarget();
    hasIpv6 = await canListen('::1');
    // All different: two forwarders on one port would make the bridge refuse the whole command line.
    const names = ['tcp', 'unixOut', 'sql', 'v6', 'half', 'mismatch', 'unreach'];
    const free = await distinctFreePortsBelowEphemeral(names.length + 1);
    closedPort = free.pop()!;
    names.forEach((name, i) => (ports[name] = free[i]!));

    const cs = relay.connectionString();
    remote = await startBridge([
      '-x', cs,
      '-T', `st-tcp:${echo.port}`,
      '-T', `st-unix-in:client.sock/${echo.port}`,
      '-T', `st-unix-out:api/${join(dir, 'target.sock')}`,
      '-T', `st-db:sql1/127.0.0.1:${sql1.port};sql2/127.0.0.1:${sql2.port}`,
      '-T', `st-v6:${echo.port}`,
      '-T', `st-half:${halfClose.port}`,
      '-T', `st-mismatch:sqlX/${echo.port}`,
      '-T', `st-unreach:${closedPort}`,
    ]);
    const localArgs = [
      '-x', cs,
      '-L', `${ports.tcp}:st-tcp`,
      '-L', `${join(dir, 'client.sock')}:st-unix-in`,
      '-L', `${ports.unixOut}/api:st-unix-out`,
      '-L', `127.0.0.8:${ports.sql}/sql1;127.0.0.9:${ports.sql}/sql2:st-db`,
      '-L', `${ports.half}:st-half`,
      '-L', `${ports.mismatch}/sqlY:st-mismatch`,
      '-L', `${ports.unreach}:st-unreach`,
    ];
    if (hasIpv6) localArgs.push('-L', `[::1]:${ports.v6}:st-v6`);
    local = await startBridge(localArgs);
  });

  after(async () => {
    await stopAll();
    await closeAll();
    await Promise.all(targets.map((t) => t.close()));
    await halfClose?.close();
    await relay?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('local TCP to remote TCP: 4 MiB each way, every byte checked, one log line per connection on both sides', async () => {
    const payload = patternBytes(4 * 1024 * 1024, 11);
    const got = await exchange({ port: ports.tcp }, payload);
    assert.deepEqual({ length: got.length, sha256: got.sha256 }, digestOf(payload));
    await local.waitForOutput(/connection ended hyco=st-tcp port=\S+ client=127\.0\.0\.1:\d+ trackingId=\S+ bytesToListener=4194304 bytesToSender=4194304 durationMs=\d+ end=closed/);
    await remote.waitForOutput(/connection ended hyco=st-tcp trackingId=\S+ port=\S+ target=tcp:localhost:\d+ bytesToListener=4194304 bytesToSender=4194304 durationMs=\d+ end=closed/);
  });

  test('local Unix socket to remote TCP', async () => {
    const payload = patternBytes(1024 * 1024, 12);
    const got = await exchange({ path: join(dir, 'client.sock') }, payload);
    assert.deepEqual({ length: got.length, sha256: got.sha256 }, digestOf(payload));
    await local.waitForOutput(/connection ended hyco=st-unix-in port=client\.sock client=unix trackingId=\S+ bytesToListener=1048576 bytesToSender=1048576/);
  });

  test('local TCP to remote Unix socket', async () => {
    const payload = patternBytes(1024 * 1024, 13);
    const got = await exchange({ port: ports.unixOut }, payload);
    assert.deepEqual({ length: got.length, sha256: got.sha256 }, digestOf(payload));
    assert.deepEqual(unixEcho.received.at(-1), digestOf(payload), 'the Unix-socket target received every byte');
    await remote.waitForOutput(/connection ended hyco=st-unix-out trackingId=\S+ port=api target=unix:\S+target\.sock bytesToListener=1048576 bytesToSender=1048576/);
  });

  test("multiplexed logical ports (the README's SQL example): two local addresses, one hybrid connection, each target sees only its own traffic", async () => {
    const one = patternBytes(300_000, 21);
    const two = patternBytes(500_000, 22);
    const [a, b] = await Promise.all([exchange({ host: '127.0.0.8', port: ports.sql }, one), exchange({ host: '127.0.0.9', port: ports.sql }, two)]);
    assert.deepEqual({ length: a.length, sha256: a.sha256 }, digestOf(Buffer.concat([Buffer.from('sql1:'), one])));
    assert.deepEqual({ length: b.length, sha256: b.sha256 }, digestOf(Buffer.concat([Buffer.from('sql2:'), two])));
    await waitFor(() => sql1.received.length === 1 && sql2.received.length === 1, 5000, 'both targets saw their connection end');
    assert.deepEqual(sql1.received, [digestOf(one)]);
    assert.deepEqual(sql2.received, [digestOf(two)]);
    assert.equal(sql1.connections, 1);
    assert.equal(sql2.connections, 1);
  });

  test('half-close: the client sends, shuts down its write side, and still receives the full reply', async () => {
    const payload = patternBytes(2 * 1024 * 1024, 31);
    const got = await exchange({ port: ports.half }, payload);
    // The target answers only after our FIN reached it: the digest of what it received, then 1 MiB.
    const expected = Buffer.concat([Buffer.from(`${digestOf(payload).sha256}\n`), patternBytes(1024 * 1024, 32)]);
    assert.deepEqual({ length: got.length, sha256: got.sha256 }, digestOf(expected));
  });

  test('IPv6 literal [::1]:PORT:relay', async (t) => {
    if (!hasIpv6) {
      t.diagnostic('skipped: this machine has no ::1');
      return;
    }
    const payload = patternBytes(100_000, 41);
    const got = await exchange({ host: '::1', port: ports.v6 }, payload);
    assert.deepEqual({ length: got.length, sha256: got.sha256 }, digestOf(payload));
    assert.match(local.output(), new RegExp(`local forwarder listening hyco=st-v6 listen="\\[::1\\]:${ports.v6} as \\\\"${ports.v6}\\\\""`));
  });

  test('a port-name mismatch is reported by name on both sides (the served names only in the remote log) and the client connection is closed', async () => {
    const closed = await expectClosed(ports.mismatch);
    assert.equal(closed.received, 0);
    await local.waitForOutput(/connection failed hyco=st-mismatch port=sqlY client=\S+ trackingId=\S+ bytesToListener=0 bytesToSender=0 durationMs=\d+ end=unknown-port reason=".*port \\"sqlY\\" refused by the remote side: unknown port name: no port named \\"sqlY\\" on relay st-mismatch"/);
    assert.doesNotMatch(local.output(), /ports served/, 'the local side is not told which port names the remote serves');
    await remote.waitForOutput(/connection failed hyco=st-mismatch .*port=sqlY .*end=unknown-port reason="no port named \\"sqlY\\" on relay st-mismatch; ports served: \\"sqlX\\""/);
  });

  test('an unreachable target is reported on the local side and the client connection is closed', async () => {
    const closed = await expectClosed(ports.unreach);
    assert.equal(closed.received, 0);
    await local.waitForOutput(/connection failed hyco=st-unreach port=\d+ .*end=target-unreachable reason=".*target unreachable: connection_refused"/);
    await remote.waitForOutput(/connection failed hyco=st-unreach .*target=tcp:localhost:\d+ .*end=target-unreachable/);
  });
});

describe('hybridge bridge: listener addresses, relay connect limits, drain (processes)', () => {
  let relay: TestRelay;
  let echo: TcpTarget;

  before(async () => {
    relay = await startRelay({ hybridConnections: ['sg-open', 'sg-attempts', 'sg-late', 'sg-drain'] });
    echo = await startEchoTarget();
  });

  // The echo target is tracked: endBridgeSuite closes it.
  after(() => endBridgeSuite(relay));

  test('-g opens listeners without an address to other hosts; without it they are loopback only', async () => {
    const cs = relay.connectionString();
    const remote = await startBridge(['-x', cs, '-T', `sg-open:${echo.port}`]);
    const [open, closed] = [await freePort(), await freePort()];
    const gateway = await startBridge(['-x', cs, '-g', '-L', `${open}:sg-open`]);
    const loopback = await startBridge(['-x', cs, '-L', `${closed}:sg-open`]);
    assert.match(gateway.output(), new RegExp(`listen="\\*:${open} as`), 'with -g: every interface');
    assert.match(loopback.output(), new RegExp(`listen="127\\.0\\.0\\.1:${closed}`), 'without -g: loopback');
    const payload = patternBytes(10_000, 51);
    const viaLoopback = await exchange({ host: '127.0.0.1', port: open }, payload);
    assert.equal(viaLoopback.sha256, digestOf(payload).sha256);
    const external = Object.values(networkInterfaces())
      .flat()
      .find((i) => i && !i.internal && i.family === 'IPv4');
    if (external) {
      const viaExternal = await exchange({ host: external.address, port: open }, payload);
      assert.equal(viaExternal.sha256, digestOf(payload).sha256, `reachable on ${external.address} with -g`);
      await assert.rejects(exchange({ host: external.address, port: closed }, payload, 3000), /ECONNREFUSED/, 'not reachable on a non-loopback address without -g');
    }
    await Promise.all([remote.stop(), gateway.stop(), loopback.stop()]);
  });

  test('ConnectionAttempts: tries one second apart; a listener that comes up during the tries is reached', async () => {
    const cs = relay.connectionString();
    const [port, latePort] = [await freePort(), await freePort()];
    const few = await startBridge(['-x', cs, '-v', '-o', 'ConnectionAttempts:3', '-L', `${port}:sg-attempts`]);
    const closed = await expectClosed(port);
    assert.ok(closed.ms >= 1800, `three tries one second apart take at least 2 s (took ${closed.ms} ms)`);
    await few.waitForOutput(/connection failed hyco=sg-attempts .*end=relay-unavailable/);
    assert.equal(few.output().match(/relay connection attempt failed; retrying/g)?.length, 2);

    const patient = await startBridge(['-x', cs, '-o', 'ConnectionAttempts:8', '-L', `${latePort}:sg-late`]);
    const payload = patternBytes(50_000, 52);
    const pending = exchange({ port: latePort }, payload, 20_000);
    await new Promise((r) => setTimeout(r, 1200));
    const remote = await startBridge(['-x', cs, '-T', `sg-late:${echo.port}`]);
    const got = await pending;
    assert.equal(got.sha256, digestOf(payload).sha256);
    assert.ok(got.ms >= 1200, 'the connection waited for the listener');
    await Promise.all([few.stop(), patient.stop(), remote.stop()]);
  });

  test('ConnectTimeout limits each relay connection try (a relay that never answers the upgrade)', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const silentPort = (silent.address() as { port: number }).port;
    const port = await freePort();
    const cs = `Endpoint=ws://127.0.0.1:${silentPort}/;SharedAccessKeyName=rule;SharedAccessKey=a2V5`;
    const bridge = await startBridge(['-x', cs, '-o', 'ConnectTimeout:1', '-o', 'ConnectionAttempts:2', '-v', '-L', `${port}:nobody`]);
    const closed = await expectClosed(port);
    assert.ok(closed.ms >= 2500 && closed.ms < 8000, `two 1 s tries plus one 1 s pause (took ${closed.ms} ms)`);
    await bridge.waitForOutput(/connection failed hyco=nobody .*end=relay-unavailable/);
    await bridge.stop();
    for (const s of sockets) s.destroy();
    silent.close();
  });

  test('SIGTERM drains: no new connections, a live one finishes, exit 0', async () => {
    const cs = relay.connectionString();
    const slowTarget = await startSlowTarget(1500);
    const remote = await startBridge(['-x', cs, '-T', `sg-drain:${slowTarget.port}`]);
    const port = await freePort();
    const local = await startBridge(['-x', cs, '--drain-timeout', '10s', '-L', `${port}:sg-drain`]);
    const payload = patternBytes(64 * 1024, 53);
    const pending = exchange({ port }, payload);
    await waitFor(() => slowTarget.connections > 0, 5000, 'the connection reached the target');
    const exit = local.stop('SIGTERM', 15_000);
    const got = await pending;
    assert.equal(got.sha256, digestOf(payload).sha256, 'the live connection finished during the drain');
    assert.equal(await exit, 0);
    await assert.rejects(exchange({ port }, payload, 2000), /ECONNREFUSED/);
    assert.equal(await remote.stop('SIGTERM'), 0);
    await slowTarget.close();
  });
});

/** Reads until the client's FIN, then answers with the digest of what it got and 1 MiB more. */
async function startHalfCloseTarget(): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    const digest = new Digest();
    socket.on('error', () => undefined);
    socket.on('data', (c: Buffer) => digest.update(c));
    socket.on('end', () => {
      socket.write(`${digest.hex()}\n`);
      socket.end(patternBytes(1024 * 1024, 32));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as { port: number }).port, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** An echo target that holds each reply back for `delayMs` after the client's FIN. */
async function startSlowTarget(delayMs: number): Promise<{ port: number; connections: number; close(): Promise<void> }> {
  const state = { port: 0, connections: 0, close: async () => undefined as void };
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    state.connections++;
    const chunks: Buffer[] = [];
    socket.on('error', () => undefined);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => setTimeout(() => socket.end(Buffer.concat(chunks)), delayMs));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.port = (server.address() as { port: number }).port;
  state.close = () => new Promise<void>((r) => server.close(() => r()));
  return state;
}

async function canListen(host: string): Promise<boolean> {
  const server = createServer();
  try {
    await withTimeout(new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, resolve);
    }), 2000);
    return true;
  } catch {
    return false;
  } finally {
    server.close();
  }
}
