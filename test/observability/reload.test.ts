/**
 * SIGHUP reloads without cutting live connections: a bridge reads its configuration file again
 * (a forwarder added, one removed, a bad file refused), a relay-listener reads its --config file
 * again (the allowlist changed, its --bridge-target pool changed, a bad file refused); connections
 * open through it all keep their bytes intact (length and SHA-256).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { closeAll, digestOf, exchange, startBridge, startEchoTarget, type TcpTarget } from '../bridge/bridge-kit.js';
import { freePort, readAll, waitFor } from '../helpers/async.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { stopAll, type RunningProcess } from '../helpers/processes.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { startListener, startPortForward } from '../tunnel/tunnel-kit.js';

/** A connection that sends half its payload now and the rest on finish(); finish() checks what came back. */
async function liveConnection(port: number, seed: number): Promise<{ finish(): Promise<void> }> {
  const payload = patternBytes(2 * 1024 * 1024, seed);
  const socket: Socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await once(socket, 'connect');
  const back = readAll(socket);
  socket.write(payload.subarray(0, payload.length / 2));
  return {
    async finish() {
      socket.end(payload.subarray(payload.length / 2));
      const received = await back;
      assert.equal(received.length, payload.length, 'every byte came back');
      assert.equal(sha256(received), sha256(payload), 'intact');
    },
  };
}

async function sighup(proc: RunningProcess, count: number, what: RegExp): Promise<void> {
  proc.child.kill('SIGHUP');
  await proc.waitForOutput(new RegExp(`(?:[^\\n]*${what.source}[^\\n]*\\n(?:.*\\n)*?){${count}}`), 10_000);
}

function refusedConnection(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(true));
  });
}

describe('SIGHUP reload with live connections (processes)', { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'hybridge-reload-test-'));
  let relay: TestRelay;
  let echoA: TcpTarget;
  let echoB: TcpTarget;

  before(async () => {
    relay = await startRelay({ hybridConnections: ['rl-a', 'rl-b', 'rl-t', 'rl-d', 'rl-p'] });
    echoA = await startEchoTarget();
    echoB = await startEchoTarget();
  });

  after(async () => {
    await stopAll();
    await closeAll();
    await relay?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('bridge: forwarders added and removed, a bad file refused, live connections untouched', async () => {
    const [portA, portB] = [await freePort(), await freePort()];
    const cs = relay.connectionString();
    const remoteFile = join(dir, 'remote.yml');
    const localFile = join(dir, 'local.yml');
    const remoteEntry = (hyco: string, port: number) => `  - RelayName: ${hyco}\n    Host: 127.0.0.1\n    HostPort: ${port}\n    PortName: app\n`;
    const localEntry = (hyco: string, port: number) => `  - RelayName: ${hyco}\n    BindAddress: 127.0.0.1\n    BindPort: ${port}\n    PortName: app\n`;
    writeFileSync(remoteFile, `AzureRelayConnectionString: "${cs}"\nRemoteForward:\n${remoteEntry('rl-a', echoA.port)}`);
    writeFileSync(localFile, `AzureRelayConnectionString: "${cs}"\nLocalForward:\n${localEntry('rl-a', portA)}`);
    const remote = await startBridge(['-f', remoteFile]);
    const local = await startBridge(['-f', localFile]);

    const live = await liveConnection(portA, 1);
    writeFileSync(remoteFile, `AzureRelayConnectionString: "${cs}"\nRemoteForward:\n${remoteEntry('rl-a', echoA.port)}${remoteEntry('rl-b', echoB.port)}`);
    writeFileSync(localFile, `AzureRelayConnectionString: "${cs}"\nLocalForward:\n${localEntry('rl-a', portA)}${localEntry('rl-b', portB)}`);
    await sighup(remote, 1, /SIGHUP: configuration reloaded/);
    await sighup(local, 1, /SIGHUP: configuration reloaded; live connections carry on added=1 removed=0 kept=1 connections=1/);
    const viaB = patternBytes(300_000, 2);
    assert.deepEqual(await exchange({ port: portB }, viaB).then((r) => ({ length: r.length, sha256: r.sha256 })), digestOf(viaB), 'the added forwarder carries');

    // rl-a's local forwarder goes away: no new connections there, the live one carries on.
    writeFileSync(localFile, `AzureRelayConnectionString: "${cs}"\nLocalForward:\n${localEntry('rl-b', portB)}`);
    await sighup(local, 2, /SIGHUP: configuration reloaded/);
    assert.equal(await refusedConnection(portA), true, 'the removed forwarder no longer listens');

    writeFileSync(localFile, 'LocalForward: [ this is: not yaml');
    await sighup(local, 1, /SIGHUP: new configuration refused; the running one carries on/);
    const again = patternBytes(100_000, 3);
    assert.deepEqual(await exchange({ port: portB }, again).then((r) => ({ length: r.length, sha256: r.sha256 })), digestOf(again), 'the old configuration still runs');

    await live.finish();
    assert.doesNotMatch(local.output() + remote.output(), /connection failed/);
  });

  test('bridge: SIGTERM stops listening at once and the drain timeout holds even when a connection never ends', async () => {
    const port = await freePort();
    const cs = relay.connectionString();
    await startBridge(['-x', cs, '-T', `rl-d:${echoA.port}`]);
    const local = await startBridge(['-x', cs, '-L', `${port}:rl-d`, '--drain-timeout', '500ms']);
    const live = await liveConnection(port, 6);
    const started = Date.now();
    local.child.kill('SIGTERM');
    const code = await local.exited;
    assert.equal(code, 0);
    assert.ok(Date.now() - started < 8000, `the bridge exited after ${Date.now() - started} ms (drain timeout 500 ms)`);
    assert.match(local.output(), /connections cut at the end of the drain period connections=1/);
    await assert.rejects(live.finish());
  });

  test('relay-listener: the allowlist changes with --config and SIGHUP; a bad file is refused; live tunnels untouched', async () => {
    const configFile = join(dir, 'listener.yml');
    writeFileSync(configFile, `allow:\n  - 127.0.0.1:${echoA.port}\n`);
    const listener = await startListener(relay, 'rl-t', ['--config', configFile]);
    const toA = await startPortForward(relay, 'rl-t', `127.0.0.1:${echoA.port}`);
    const toB = await startPortForward(relay, 'rl-t', `127.0.0.1:${echoB.port}`);
    const live = await liveConnection(toA.port, 4);
    const probe = patternBytes(50_000, 5);
    assert.equal((await exchange({ port: toB.port }, probe)).length, 0, 'B is not allowed yet');

    writeFileSync(configFile, `allow:\n  - 127.0.0.1:${echoB.port}\n`);
    await sighup(listener, 1, /SIGHUP: configuration reloaded/);
    assert.deepEqual(await exchange({ port: toB.port }, probe).then((r) => ({ length: r.length, sha256: r.sha256 })), digestOf(probe), 'B is allowed now');
    assert.equal((await exchange({ port: toA.port }, probe)).length, 0, 'new tunnels to A are refused');

    writeFileSync(configFile, 'allow:\n  - "not a target"\n');
    await sighup(listener, 1, /SIGHUP: new configuration refused; the running one carries on/);
    assert.deepEqual(await exchange({ port: toB.port }, probe).then((r) => ({ length: r.length, sha256: r.sha256 })), digestOf(probe), 'the old allowlist still applies');

    await live.finish();
  });

  test('relay-listener: --bridge-target pools change with --config and SIGHUP; a connection through the old pool carries on', async () => {
    const configFile = join(dir, 'pools.yml');
    const echoC = await startEchoTarget();
    const echoD = await startEchoTarget();
    writeFileSync(configFile, `bridgeTargets:\n  - 127.0.0.1:${echoC.port}\n`);
    const listener = await startListener(relay, 'rl-p', ['--config', configFile]);
    const localPort = await freePort();
    await startBridge(['-x', relay.connectionString(), '-L', `${localPort}:rl-p`]);
    const live = await liveConnection(localPort, 7);
    await waitFor(() => echoC.connections === 1, 5000, 'the first pool took it');

    writeFileSync(configFile, `bridgeTargets:\n  - 127.0.0.1:${echoD.port}\n`);
    await sighup(listener, 1, /SIGHUP: configuration reloaded/);
    const probe = patternBytes(80_000, 8);
    assert.deepEqual(await exchange({ port: localPort }, probe).then((r) => ({ length: r.length, sha256: r.sha256 })), digestOf(probe));
    assert.deepEqual([echoC.connections, echoD.connections], [1, 1], 'the new connection went to the new pool');

    writeFileSync(configFile, 'bridgeTargets: [ unclosed\n');
    await sighup(listener, 1, /SIGHUP: new configuration refused; the running one carries on/);
    assert.equal((await exchange({ port: localPort }, probe)).sha256, digestOf(probe).sha256, 'the running pool still serves');
    assert.equal(echoD.connections, 2);

    await live.finish();
    assert.doesNotMatch(listener.output(), /connection failed/);
  });
});
