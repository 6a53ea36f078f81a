import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bridgeEnv, digestOf, endBridgeSuite, exchange, expectClosed, runBridgeToExit, startBridge, startEchoTarget, startUdpEcho, udpClient, type TcpTarget, type UdpTarget } from '../bridge/bridge-kit.js';
import { freePort, waitFor } from '../helpers/async.js';
import { patternBytes } from '../helpers/data.js';
import { spawnHybridge } from '../helpers/processes.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';

describe('hybridge bridge: configuration files and global settings (processes)', () => {
  let relay: TestRelay;
  const dir = mkdtempSync(join(tmpdir(), 'hybridge-bridge-config-'));
  let rdp: TcpTarget;
  let sql1: TcpTarget;
  let sql2: TcpTarget;
  let dns: UdpTarget;
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  before(async () => {
    relay = await startRelay({ hybridConnections: ['sf-rdp', 'sf-db', 'sf-json', 'sf-env', 'sf-quiet', 'sf-exit'] });
    rdp = await startEchoTarget();
    sql1 = await startEchoTarget({}, Buffer.from('sql1:'));
    sql2 = await startEchoTarget({}, Buffer.from('sql2:'));
    dns = await startUdpEcho();
  });

  after(() => endBridgeSuite(relay, dir));

  test("azbridge's examples/rdp client and server configs (per-forwarder ConnectionString, PortName rdp, a 127.x address)", async () => {
    const port = await freePort('127.1.0.2');
    const client = file(
      'rdp_client_config.yml',
      ['LocalForward:', '  - RelayName: sf-rdp', '    BindAddress: 127.1.0.2', `    BindPort: ${port}`, '    PortName: rdp', `    ConnectionString: ${relay.connectionString('ignored')}`, ''].join('\n'),
    );
    const server = file(
      'rdp_server_config.yml',
      ['RemoteForward:', '  - RelayName: sf-rdp', '    Host: localhost', `    HostPort: ${rdp.port}`, '    PortName: rdp', `    ConnectionString: ${relay.connectionString()}`, ''].join('\n'),
    );
    const remote = await startBridge(['-f', server]);
    const local = await startBridge(['-f', client]);
    const payload = patternBytes(500_000, 91);
    const got = await exchange({ host: '127.1.0.2', port }, payload);
    assert.equal(got.sha256, digestOf(payload).sha256);
    await local.waitForOutput(/connection ended hyco=sf-rdp port=rdp client=127\.[\d.]+:\d+ trackingId=\S+ bytesToListener=500000 bytesToSender=500000/);
    await Promise.all([local.stop(), remote.stop()]);
  });

  test("the README's multiplexing example as YAML Bindings lists, with a UDP binding (negative ports) and global keys", async () => {
    const [sqlPort, udpPort] = [await freePort(), await freePort()];
    const cs = relay.connectionString();
    const common = [`AzureRelayConnectionString: "${cs}"`, 'LogLevel: INFO', 'KeepAliveInterval: 15', 'ConnectTimeout: 10', 'ConnectionAttempts: 2', 'ExitOnForwardFailure: true', 'GatewayPorts: no'];
    const client = file(
      'db_client.yml',
      [
        ...common,
        'LocalForward:',
        '  - RelayName: sf-db',
        '    Bindings:',
        `      - { BindAddress: 127.0.0.8, BindPort: ${sqlPort}, PortName: sql1, HostName: sql1.corp.example.com }`,
        `      - { BindAddress: 127.0.0.9, BindPort: ${sqlPort}, PortName: sql2, HostName: sql2.corp.example.com }`,
        `      - { BindAddress: 127.0.0.1, BindPort: -${udpPort}, PortName: dns }`,
        '',
      ].join('\n'),
    );
    const server = file(
      'db_server.yml',
      [
        ...common,
        'RemoteForward:',
        '  - RelayName: sf-db',
        '    Bindings:',
        `      - { PortName: sql1, Host: 127.0.0.1, HostPort: ${sql1.port} }`,
        `      - { PortName: sql2, Host: 127.0.0.1, HostPort: ${sql2.port} }`,
        `      - { PortName: dns, Host: 127.0.0.1, HostPort: -${dns.port} }`,
        '',
      ].join('\n'),
    );
    const remote = await startBridge(['-f', server]);
    const local = await startBridge(['-f', client]);
    const [one, two] = [patternBytes(200_000, 92), patternBytes(300_000, 93)];
    const [a, b] = await Promise.all([exchange({ host: '127.0.0.8', port: sqlPort }, one), exchange({ host: '127.0.0.9', port: sqlPort }, two)]);
    assert.equal(a.sha256, digestOf(Buffer.concat([Buffer.from('sql1:'), one])).sha256);
    assert.equal(b.sha256, digestOf(Buffer.concat([Buffer.from('sql2:'), two])).sha256);
    await waitFor(() => sql1.received.length === 1 && sql2.received.length === 1, 5000, 'targets saw their connections end');
    assert.deepEqual(sql1.received, [digestOf(one)]);
    assert.deepEqual(sql2.received, [digestOf(two)]);
    const udp = await udpClient();
    udp.send(Buffer.from('query'), udpPort);
    await waitFor(() => udp.received.length === 1, 10_000, 'UDP echo');
    assert.equal(udp.received[0]!.toString(), 'query');
    await udp.close();
    await Promise.all([local.stop(), remote.stop()]);
  });

  test('NoAuthentication: true connects without a token to a hybrid connection that lets anonymous senders in', async () => {
    await relay.server.store.createHybridConnection('sf-anon', { requiresClientAuthorization: false });
    const [anonPort, keyedPort] = [await freePort(), await freePort()];
    const remote = await startBridge(['-x', relay.connectionString(), '-T', `sf-anon:${rdp.port}`]);
    // A wrong key: only the binding that sends no token at all can get through.
    const wrongKey = relay.connectionString().replace(/SharedAccessKey=[^;]+/, 'SharedAccessKey=d3Jvbmc=');
    const client = file(
      'anon.yml',
      [
        `AzureRelayConnectionString: "${wrongKey}"`,
        'LocalForward:',
        '  - RelayName: sf-anon',
        '    NoAuthentication: true',
        '    BindAddress: 127.0.0.1',
        `    BindPort: ${anonPort}`,
        '  - RelayName: sf-anon',
        '    BindAddress: 127.0.0.1',
        `    BindPort: ${keyedPort}`,
        '',
      ].join('\n'),
    );
    const local = await startBridge(['-f', client]);
    const payload = patternBytes(10_000, 96);
    const got = await exchange({ port: anonPort }, payload);
    assert.equal(got.sha256, digestOf(payload).sha256);
    await expectClosed(keyedPort);
    await local.waitForOutput(new RegExp(`connection failed hyco=sf-anon port=${keyedPort} .*end=relay-unavailable reason=".*authorization failed`));
    await Promise.all([local.stop(), remote.stop()]);
  });

  test('JSON configuration files work as YAML; -o overrides may contain ":"', async () => {
    const port = await freePort();
    const server = file('server.json', JSON.stringify({ RemoteForward: [{ RelayName: 'sf-json', HostPort: rdp.port }] }));
    // The file's connection string names a wrong endpoint; -o replaces just that part.
    const wrong = relay.connectionString().replace(/Endpoint=[^;]+/, 'Endpoint=sb://wrong.example/');
    const client = file(
      'client.json',
      JSON.stringify({ AzureRelayConnectionString: wrong, LocalForward: [{ RelayName: 'sf-json', BindAddress: '127.0.0.1', BindPort: port, PortName: String(rdp.port) }] }),
    );
    const remote = await startBridge(['-f', server, '-x', relay.connectionString()]);
    const local = await startBridge(['-f', client, '-o', `AzureRelayEndpoint:ws://127.0.0.1:${relay.port}/`]);
    const payload = patternBytes(10_000, 94);
    const got = await exchange({ port }, payload);
    assert.equal(got.sha256, digestOf(payload).sha256, '-o AzureRelayEndpoint:ws://… replaced the endpoint of the file\'s connection string');
    await Promise.all([local.stop(), remote.stop()]);
  });

  test('AZURE_BRIDGE_CONNECTIONSTRING supplies the connection string; -q silences the log; -l writes it to a file', async () => {
    const port = await freePort();
    const env = { AZURE_BRIDGE_CONNECTIONSTRING: relay.connectionString() };
    const logFile = join(dir, 'remote.log');
    const remote = await startBridge(['-T', `sf-env:${rdp.port}`, '-l', logFile], { env, ready: /^$/ });
    await waitFor(() => safeRead(logFile).includes('bridge ready'), 10_000, 'the log file says ready');
    const quiet = spawnHybridge(['bridge', '-q', '-L', `${port}:sf-env`], { env: bridgeEnv(env) });
    const payload = patternBytes(10_000, 95);
    const got = await waitFor(() => exchange({ port }, payload, 3000).catch(() => undefined), 10_000, 'the quiet bridge forwards');
    assert.equal(got!.sha256, digestOf(payload).sha256);
    await waitFor(() => safeRead(logFile).includes('connection ended hyco=sf-env'), 5000, 'the remote logged the connection to its file');
    assert.equal(quiet.output(), '', '-q: no output at all');
    assert.equal(remote.output(), '', '-l: nothing on stderr');
    assert.equal(await quiet.stop(), 0);
    await remote.stop();
  });

  test('ExitOnForwardFailure: a listener that cannot start exits 1 with the reason (true, the default) or is skipped (false)', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const busy = (blocker.address() as { port: number }).port;
    const free = await freePort();
    const cs = relay.connectionString();
    const failed = await runBridgeToExit(['-x', cs, '-L', `127.0.0.1:${busy}:sf-exit`]);
    assert.equal(failed.code, 1);
    assert.match(failed.output.trim().split('\n').at(-1)!, new RegExp(`^hybridge: -L 127\\.0\\.0\\.1:${busy}:sf-exit: 127\\.0\\.0\\.1:${busy} is already in use$`));
    const lenient = await startBridge(['-x', cs, '-o', 'ExitOnForwardFailure:false', '-L', `127.0.0.1:${busy}:sf-exit`, '-L', `${free}:sf-exit`]);
    assert.match(lenient.output(), /local forwarder did not start hyco=sf-exit reason=".*is already in use"/);
    assert.match(lenient.output(), /bridge ready remote=0 local=1 failed=1/);
    await lenient.stop();
    const missing = await runBridgeToExit(['-x', cs, '-T', 'sf-no-such-relay:1']);
    assert.equal(missing.code, 1, 'a relay listener that cannot connect at start exits 1');
    assert.match(missing.output.trim().split('\n').at(-1)!, /^hybridge: relay sf-no-such-relay \(-T sf-no-such-relay:1\): .*404/);
    blocker.close();
  });
});

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
