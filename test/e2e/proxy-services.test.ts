/**
 * The other commands that reach a relay, through a real squid: `bridge -L/-T`, the management
 * commands (`hyco`, `namespace`), Microsoft Entra ID sign-in (against a stand-in token endpoint:
 * the cloud cannot run here), and `arc port-forward` (ARM stood in for, as in arc.test.ts), over
 * a TLS relay. Checked: SHA-256 of what crossed, squid's access log showing it carried each
 * connection (with the Basic user where one was given), and the one-line errors of wrong
 * credentials and a proxy that is down.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { arcEnv, fakeAzureCli, startArmStandIn, type ArmStandIn, type FakeAzureCli } from '../arc/arc-kit.js';
import { exchange, expectClosed, startBridge, startEchoTarget, type TcpTarget } from '../bridge/bridge-kit.js';
import { freePort, waitFor } from '../helpers/async.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { ENTRA_TEST_HOST, proxyVariables, RELAY_TEST_HOST, startSquid, type TestSquid } from '../helpers/squid.js';
import { startEntraStandIn, type EntraStandIn } from '../helpers/entra-stand-in.js';
import { spawnHybridge, stopAll, type RunningProcess } from '../helpers/processes.js';
import { ROOT_KEY, ROOT_RULE, startRelay, type TestRelay } from '../helpers/relay.js';
import { cleanEnv, oneLine, runCli } from '../relay/management-cli-kit.js';
import { KiB, roundTrip, tunnelEnv } from '../tunnel/tunnel-kit.js';

const USER = { user: 'svc-user', password: 'pa ss@w0rd' };
const HYCOS = ['ps-bridge', 'ps-bridge-env', 'ps-bridge-bad', 'ps-entra', 'ps-arc'];

describe('bridge, management, Entra ID sign-in and arc through squid (wss relay)', () => {
  let relay: TestRelay;
  let squid: TestSquid;
  let authSquid: TestSquid;
  let echo: TcpTarget;
  let dir: string;
  let caFile: string;
  const relayAt = () => `127.0.0.1:${relay.port}`;
  /** The root connection string, naming the relay by `host`. */
  const cs = (host = '127.0.0.1', entity?: string) =>
    `Endpoint=sb://${host}:${relay.port}/;SharedAccessKeyName=${ROOT_RULE};SharedAccessKey=${ROOT_KEY}${entity ? `;EntityPath=${entity}` : ''}`;
  const tunnelsTo = (proxy: TestSquid, target: string, atLeast: number) =>
    waitFor(() => (proxy.tunnelsTo(target).length >= atLeast ? proxy.tunnelsTo(target) : undefined), 10_000, `${atLeast} tunnels to ${target} in squid's log`);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hybridge-proxy-services-'));
    relay = await startRelay({ tls: true, tlsNames: [RELAY_TEST_HOST], hybridConnections: HYCOS });
    caFile = join(dir, 'relay.pem');
    writeFileSync(caFile, relay.ca!);
    echo = await startEchoTarget();
    [squid, authSquid] = await Promise.all([startSquid(), startSquid({ users: { [USER.user]: USER.password } })]);
  });
  after(async () => {
    await stopAll();
    await Promise.all([squid?.stop(), authSquid?.stop(), echo?.close()]);
    await relay?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('bridge -T and -L: --proxy on one side, HTTPS_PROXY with Basic credentials on the other', async () => {
    const remote = await startBridge(['-x', cs(RELAY_TEST_HOST), '-T', `ps-bridge:${echo.port}`, '--ca', caFile], { env: { HTTPS_PROXY: authSquid.url(USER) } });
    const port = await freePort();
    const local = await startBridge(['-x', cs(), '-L', `${port}:ps-bridge`, '--ca', caFile, '--proxy', squid.url()]);
    for (const seed of [1, 2]) {
      const payload = patternBytes(600 * KiB + seed, seed);
      const got = await exchange({ port }, payload);
      assert.deepEqual(got && { length: got.length, sha256: got.sha256 }, { length: payload.length, sha256: sha256(payload) });
    }
    await Promise.all([remote.stop(), local.stop()]);
    // -L: one relayed connection each; -T: its control channel and one rendezvous each.
    assert.equal((await tunnelsTo(squid, relayAt(), 2))?.length, 2);
    const remoteTunnels = await tunnelsTo(authSquid, `${RELAY_TEST_HOST}:${relay.port}`, 3);
    assert.ok(remoteTunnels?.every((t) => t.user === USER.user), JSON.stringify(remoteTunnels));
    assert.doesNotMatch(remote.output(), /pa ss@w0rd|pa%20ss/);
  });

  it('bridge -L with wrong proxy credentials: the client connection is closed, the log says why in one line', async () => {
    const port = await freePort();
    const wrong = authSquid.url({ user: USER.user, password: 'wrong-one' });
    const local = await startBridge(['-x', cs(RELAY_TEST_HOST), '-L', `${port}:ps-bridge-bad`, '--ca', caFile], { env: { HTTPS_PROXY: wrong } });
    await expectClosed(port);
    const line = await local.waitForOutput(/connection failed.*/, 10_000);
    assert.match(line[0], new RegExp(`proxy http://127\\.0\\.0\\.1:${authSquid.port} refused the tunnel to ${RELAY_TEST_HOST}:${relay.port}: 407 Proxy Authentication Required; check the user name and password in the proxy URL`));
    assert.doesNotMatch(local.output(), /wrong-one/);
    await local.stop();
  });

  describe('management commands', () => {
    const managementEnv = (extra: Record<string, string> = {}) => ({ ...cleanEnv(), ...proxyVariables(extra) });
    const manage = (args: string[], env = managementEnv()) => runCli([...args, '--ca', caFile], env);

    it('hyco create / show and namespace authorization-rule list through --proxy and HTTPS_PROXY (Basic)', async () => {
      const created = await manage(['hyco', 'create', '-n', 'ps-made', '-x', cs(), '--proxy', squid.url()]);
      assert.equal(created.code, 0, created.stderr);
      const shown = await manage(['hyco', 'show', '-n', 'ps-made', '-x', cs(RELAY_TEST_HOST), '--query', 'name', '-o', 'tsv'], managementEnv({ HTTPS_PROXY: authSquid.url(USER) }));
      assert.equal(shown.stdout, 'ps-made\n', shown.stderr);
      const rules = await manage(['namespace', 'authorization-rule', 'list', '-x', cs(RELAY_TEST_HOST), '--query', '[].name', '-o', 'tsv'], managementEnv({ https_proxy: authSquid.url(USER) }));
      assert.match(rules.stdout, new RegExp(ROOT_RULE), rules.stderr);
      assert.equal((await tunnelsTo(squid, relayAt(), 1))?.[0]?.method, 'CONNECT');
      const authed = await tunnelsTo(authSquid, `${RELAY_TEST_HOST}:${relay.port}`, 2);
      assert.ok(authed?.every((t) => t.user === USER.user));
    });

    it('wrong credentials and a proxy that is down: exit 1, one line naming the proxy, no password', async () => {
      const wrong = await manage(['hyco', 'list', '-x', cs(), '--proxy', authSquid.url({ user: USER.user, password: 'nope-pw' })]);
      assert.equal(wrong.code, 1, wrong.stderr);
      const wrongLine = oneLine(wrong.stderr.replace(/^hybridge: warning: .*\n/, ''));
      assert.equal(
        wrongLine,
        `hybridge: cannot reach the relay at https://${relayAt()}: proxy http://127.0.0.1:${authSquid.port} refused the tunnel to ${relayAt()}: 407 Proxy Authentication Required; check the user name and password in the proxy URL`,
      );
      const downPort = await freePort();
      const down = await manage(['hyco', 'list', '-x', cs(RELAY_TEST_HOST)], managementEnv({ HTTPS_PROXY: `http://a:secret-pw@127.0.0.1:${downPort}` }));
      assert.equal(down.code, 1, down.stderr);
      assert.equal(oneLine(down.stderr), `hybridge: cannot reach the relay at https://${RELAY_TEST_HOST}:${relay.port}: cannot reach proxy http://127.0.0.1:${downPort} (connection refused)`);
      assert.doesNotMatch(wrong.stderr + down.stderr, /nope-pw|secret-pw/);
    });
  });

  describe('Microsoft Entra ID sign-in', () => {
    let entra: EntraStandIn;
    before(async () => {
      entra = await startEntraStandIn([ENTRA_TEST_HOST]);
      writeFileSync(join(dir, 'entra.pem'), entra.ca);
    });
    after(() => entra?.close());

    it('DefaultAzureCredential signs in through --proxy, then the token goes to the relay through it too', async () => {
      const env = tunnelEnv({
        ...proxyVariables(),
        AZTUNNEL_KEY_NAME: undefined,
        AZTUNNEL_KEY: undefined,
        AZURE_TOKEN_CREDENTIALS: 'EnvironmentCredential',
        AZURE_TENANT_ID: 'adfs',
        AZURE_CLIENT_ID: '0f2b1c4e-5d6a-4b8c-9e0f-112233445566',
        AZURE_CLIENT_SECRET: 'stand-in-client-secret',
        AZURE_AUTHORITY_HOST: `https://${ENTRA_TEST_HOST}:${entra.port}`,
        NODE_EXTRA_CA_CERTS: join(dir, 'entra.pem'),
      });
      const listener: RunningProcess = spawnHybridge(['relay-listener', '--relay', `wss://${relayAt()}`, '--hyco', 'ps-entra', '--ca', caFile, '--proxy', squid.url()], { env });
      // The hybridge relay takes SAS only: it refuses the Entra ID token, which shows it arrived.
      await listener.waitForOutput(/relay problem .*authorization failed \(401/, 15_000);
      assert.ok(entra.requests.includes('POST /adfs/oauth2/token'), entra.requests.join(', '));
      await listener.stop();
      await tunnelsTo(squid, `${ENTRA_TEST_HOST}:${entra.port}`, 1);
      assert.match(listener.output(), /auth=entra/);
      assert.doesNotMatch(listener.output(), /stand-in-client-secret|eyJhbGciOiJub25lIn0/);
    });
  });

  describe('arc port-forward', () => {
    let arm: ArmStandIn;
    let az: FakeAzureCli;
    let agent: RunningProcess;
    let armCa: string;
    before(async () => {
      arm = await startArmStandIn(relay);
      mkdirSync(join(dir, 'bin'));
      az = fakeAzureCli(join(dir, 'bin'));
      armCa = join(dir, 'trust.pem');
      writeFileSync(armCa, `${relay.ca!}\n${arm.ca}`);
      agent = spawnHybridge(['relay-listener', '--relay', `wss://${relayAt()}`, '--hyco', 'ps-arc', '--ca', caFile, '--arc-compatible', '--arc-ports', String(echo.port)], { env: tunnelEnv(proxyVariables()) });
      await agent.waitForOutput(/listener online/, 15_000);
    });
    after(async () => {
      await agent?.stop();
      await arm?.close();
    });

    it('ARM calls and the relay connection go through --proxy; every byte checked', async () => {
      const id = arm.addMachine('proxied', { hyco: 'ps-arc' });
      const before = squid.tunnelsTo(relayAt()).length;
      const proc = spawnHybridge(['arc', 'port-forward', '--resource-id', id, '--arm-endpoint', arm.url, '--ca', armCa, '--port', String(echo.port), '--proxy', squid.url(), '-b', '127.0.0.1:0'], {
        env: arcEnv({ ...az.env, ...proxyVariables() }),
      });
      const port = Number((await proc.waitForOutput(/hybridge arc: listening on 127\.0\.0\.1:(\d+)/, 20_000))[1]);
      const payload = patternBytes(400 * KiB, 9);
      const got = await roundTrip(port, payload, 20_000);
      assert.equal(got.sha256, sha256(payload));
      await proc.stop();
      await tunnelsTo(squid, new URL(arm.url).host, 1);
      await waitFor(() => squid.tunnelsTo(relayAt()).length > before, 10_000, 'the Arc relay connection in squid\'s log');
    });
  });
});
