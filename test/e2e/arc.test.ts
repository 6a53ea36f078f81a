/**
 * `hybridge arc connect` / `arc port-forward` end to end, without Azure: ARM is an HTTPS stand-in
 * started by the test (it cannot run here), whose listCredentials answers point at a real hybridge
 * relay (TLS) where `relay-listener --arc-compatible` plays the machine's Arc agent; the ARM token
 * comes from DefaultAzureCredential running a fake `az` (test/arc/arc-kit.ts). Checked: ssh through
 * `arc connect` as a ProxyCommand against a real sshd, SHA-256-checked data through
 * `arc port-forward` with fresh credentials per connection and one cached Entra token, creating the
 * endpoint and waiting for the agent, each ARM failure as one line, the bounded wait, the listener's
 * port list, sovereign clouds, and bad command lines (exit 2).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { delay, withTimeout } from '../helpers/async.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { HYBRIDGE_BIN, runHybridgeWithInput, spawnHybridge, stopAll, waitExit, type RunningProcess } from '../helpers/processes.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { runSsh, sshArgs, startSshd, type TestSshd } from '../helpers/sshd.js';
import { echoServer, KiB, MiB, roundTrip, tunnelEnv, type TestServer } from '../tunnel/tunnel-kit.js';
import { arcEnv, fakeAzureCli, machineId, SERVICE_CONFIGURATION_TOKEN, startArmStandIn, type ArmStandIn, type FakeAzureCli } from '../arc/arc-kit.js';

const HYCOS = ['arc-agent', 'arc-late', 'arc-idle'];

describe('arc connect / arc port-forward (processes, ARM stood in for)', () => {
  let dir: string;
  let relay: TestRelay;
  let arm: ArmStandIn;
  let az: FakeAzureCli;
  let caFile: string;
  let sshd: TestSshd;
  let echo: TestServer;
  let agent: RunningProcess;

  const arcArgs = (resourceId: string, ...extra: string[]) => ['--resource-id', resourceId, '--arm-endpoint', arm.url, '--ca', caFile, ...extra];
  const env = (extra: Record<string, string | undefined> = {}) => arcEnv({ ...az.env, ...extra });
  const listCredentialCalls = (machine: string) => arm.requests.filter((r) => r.machine === machine && r.path.endsWith('/listCredentials')).length;

  /** `arc connect` with `input` on stdin: exit code, stdout, and stderr (kept apart). */
  function runArcConnect(args: string[], input: Buffer, timeoutMs = 30_000): Promise<{ code: number | string; stdout: Buffer; stderr: string }> {
    return runHybridgeWithInput(['arc', 'connect', ...args], env(), input, timeoutMs);
  }

  function startAgent(hyco: string, ports: string): Promise<RunningProcess> {
    const proc = spawnHybridge(['relay-listener', '--relay', relay.wsBase, '--hyco', hyco, '--ca', caFile, '--arc-compatible', '--arc-ports', ports], { env: tunnelEnv() });
    return proc.waitForOutput(/listener online/, 15_000).then(() => proc);
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hybridge-arc-'));
    relay = await startRelay({ tls: true, hybridConnections: HYCOS });
    arm = await startArmStandIn(relay);
    mkdirSync(join(dir, 'bin'));
    az = fakeAzureCli(join(dir, 'bin'));
    caFile = join(dir, 'trust.pem');
    writeFileSync(caFile, `${relay.ca!}\n${arm.ca}`);
    mkdirSync(join(dir, 'ssh'));
    sshd = await startSshd(join(dir, 'ssh'));
    echo = await echoServer();
    agent = await startAgent('arc-agent', `${sshd.port},${echo.port}`);
  });

  after(async () => {
    await stopAll();
    await echo.close();
    await arm.close();
    await relay.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('works as ssh -o ProxyCommand against a real sshd, with the headers and the ARM call aztunnel makes', async () => {
    const id = arm.addMachine('web1', { hyco: 'arc-agent' });
    const proxy = `'${process.execPath}' '${HYBRIDGE_BIN}' arc connect ${arcArgs(id, '--port', String(sshd.port)).join(' ')}`;
    const hello = await runSsh(sshArgs(sshd, proxy, 'echo hello-through-arc'), env());
    assert.equal(hello.code, 0, `ssh failed: ${hello.stderr}\nagent: ${agent.output()}`);
    assert.equal(hello.stdout.toString(), 'hello-through-arc\n');

    const payload = patternBytes(MiB + 13, 171);
    const hashed = await runSsh(sshArgs(sshd, proxy, 'sha256sum'), env(), payload);
    assert.equal(hashed.code, 0, hashed.stderr);
    assert.equal(hashed.stdout.toString().split(' ')[0], sha256(payload), 'sshd received every byte');

    const calls = arm.requests.filter((r) => r.machine === 'web1');
    assert.deepEqual(calls.map((r) => `${r.method} ${r.path}`), Array(2).fill('POST /providers/Microsoft.HybridConnectivity/endpoints/default/listCredentials'), 'no PUT on an endpoint that exists');
    assert.equal(calls[0]!.query.toString(), 'expiresin=10800&api-version=2023-03-15');
    assert.deepEqual(calls[0]!.body, { serviceName: 'SSH' });
    assert.doesNotMatch(agent.output(), new RegExp(SERVICE_CONFIGURATION_TOKEN), 'the listener never logs the token');
    assert.match(agent.output(), new RegExp(`connection open .*arcPort=${sshd.port}`));
  });

  it('port-forward: SHA-256-checked data over several connections, fresh credentials for each, one cached Entra token', async () => {
    const id = arm.addMachine('data1', { hyco: 'arc-agent' });
    const azCallsBefore = az.calls().length;
    const proc = spawnHybridge(['arc', 'port-forward', ...arcArgs(id, '--port', String(echo.port)), '-b', '127.0.0.1:0'], { env: env() });
    const m = await proc.waitForOutput(/hybridge arc: listening on 127\.0\.0\.1:(\d+), forwarding to data1 port \d+/, 20_000);
    const port = Number(m[1]);
    for (let i = 0; i < 3; i++) {
      const payload = patternBytes(300 * KiB + i, 180 + i);
      const got = await roundTrip(port, payload, 20_000);
      assert.equal(got.received.length, payload.length);
      assert.equal(got.sha256, sha256(payload));
    }
    assert.equal(listCredentialCalls('data1'), 4, 'one listCredentials at start, then one per connection');
    assert.equal(az.calls().length - azCallsBefore, 1, 'one ARM token for the whole run');
    assert.match(az.calls().at(-1)!, /account get-access-token --output json --resource https:\/\/management\.azure\.com( |$)/);
    await proc.stop('SIGTERM');
  });

  it('creates a missing endpoint and service configuration, then waits for the agent to register', async () => {
    const id = arm.addMachine('new1', { hyco: 'arc-late', endpoint: false, services: new Map() });
    const proc = spawnHybridge(['arc', 'connect', ...arcArgs(id, '--port', String(echo.port), '--timeout', '30s')], { env: env() });
    const stdout: Buffer[] = [];
    proc.child.stdout!.removeAllListeners('data');
    proc.child.stdout!.on('data', (c: Buffer) => stdout.push(c));
    await proc.waitForOutput(/created the connectivity endpoint of new1 and its SSH service configuration for port \d+ \(a one-time step\)/, 20_000);
    await proc.waitForOutput(/waiting for the Arc agent on new1 to register with its relay .*relay answered 404/, 20_000);
    // The agent registers late, as a real one does 30-90 s after the endpoint appears.
    await delay(500);
    await startAgent('arc-late', String(echo.port));
    const payload = patternBytes(200 * KiB, 190);
    proc.child.stdin!.end(payload);
    assert.equal(await waitExit(proc, 30_000), 0, proc.output());
    assert.equal(sha256(Buffer.concat(stdout)), sha256(payload), 'the echo came back whole');
    const puts = arm.requests.filter((r) => r.machine === 'new1' && r.method === 'PUT');
    assert.deepEqual(
      puts.map((r) => [r.path, r.body]),
      [
        ['/providers/Microsoft.HybridConnectivity/endpoints/default', { properties: { type: 'default' } }],
        ['/providers/Microsoft.HybridConnectivity/endpoints/default/serviceConfigurations/SSH', { properties: { serviceName: 'SSH', port: echo.port } }],
      ],
    );
  });

  it('creates only the service configuration when the endpoint exists (412)', async () => {
    const id = arm.addMachine('svc1', { hyco: 'arc-agent', services: new Map() });
    const payload = patternBytes(64 * KiB, 191);
    const run = await runArcConnect(arcArgs(id, '--port', String(echo.port), '--service', 'wac'), payload);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(sha256(run.stdout), sha256(payload));
    assert.match(run.stderr, /created the WAC service configuration of svc1 for port \d+/);
    const puts = arm.requests.filter((r) => r.machine === 'svc1' && r.method === 'PUT').map((r) => r.path);
    assert.deepEqual(puts, ['/providers/Microsoft.HybridConnectivity/endpoints/default/serviceConfigurations/WAC']);
  });

  it('gives up after --timeout when the agent never comes, with progress lines on the way', async () => {
    const id = arm.addMachine('idle1', { hyco: 'arc-idle' });
    const started = Date.now();
    const run = await runArcConnect(arcArgs(id, '--timeout', '4s'), Buffer.alloc(0), 20_000);
    assert.equal(run.code, 1, run.stderr);
    assert.ok(Date.now() - started < 15_000, 'the wait is bounded');
    const lines = run.stderr.trim().split('\n');
    assert.match(lines.at(-1)!, /^hybridge: arc connect: the Arc agent on idle1 did not accept a connection within 4s \(relay answered 404[^)]*\); check that the machine is connected \(azcmagent show\)/);
    const progress = lines.filter((l) => /^hybridge: arc connect: waiting for the Arc agent on idle1 to accept the connection: relay answered 404.*of at most 4s$/.test(l));
    assert.ok(progress.length >= 1, run.stderr);
    assert.equal(lines.length, progress.length + 1, `nothing else on stderr:\n${run.stderr}`);
  });

  it('the listener refuses a port outside --arc-ports before the rendezvous', async () => {
    const id = arm.addMachine('web2', { hyco: 'arc-agent' });
    const run = await runArcConnect(arcArgs(id, '--port', '1'), Buffer.alloc(0));
    assert.equal(run.code, 1);
    assert.equal(run.stderr, "hybridge: arc connect: the relay of web2 refused the connection (403 port 1 is not allowed by the listener's --arc-ports)\n");
  });

  describe('ARM failures: one line and exit code 1', { concurrency: true }, () => {
    const cases: [string, string, { status: number; code: string; message: string } | undefined, RegExp][] = [
      [
        'no permission (403)',
        'denied1',
        { status: 403, code: 'AuthorizationFailed', message: "The client 'u@example.com' does not have authorization to perform action 'Microsoft.HybridConnectivity/endpoints/listCredentials/action'." },
        /^hybridge: arc connect: no permission to connect to denied1 \(403 AuthorizationFailed\): the signed-in identity needs Microsoft\.HybridConnectivity\/endpoints\/listCredentials\/action on \/subscriptions\/.*\/machines\/denied1 \(e\.g\. the Virtual Machine Local User Login role\)\n$/,
      ],
      ['a machine that does not exist (404)', 'ghost1', undefined, /^hybridge: arc connect: machine not found: \/subscriptions\/.*\/machines\/ghost1 \(404 ParentResourceNotFound\); check the subscription, resource group and name/],
      [
        'a resource provider that is not registered',
        'unreg1',
        { status: 409, code: 'MissingSubscriptionRegistration', message: "The subscription is not registered to use namespace 'Microsoft.HybridConnectivity'." },
        /^hybridge: arc connect: subscription [0-9a-f-]+ is not registered for the Microsoft\.HybridConnectivity resource provider \(409 MissingSubscriptionRegistration\); register it once: az provider register -n Microsoft\.HybridConnectivity\n$/,
      ],
      ['a token ARM refuses (401)', 'expired1', { status: 401, code: 'ExpiredAuthenticationToken', message: 'The access token expiry has passed.' }, /^hybridge: arc connect: ARM did not accept the Microsoft Entra ID token \(401 ExpiredAuthenticationToken\); sign in again \(az login\)/],
    ];
    for (const [what, name, fault, message] of cases) {
      it(`reports ${what}`, async () => {
        const id = name === 'ghost1' ? machineId(name) : arm.addMachine(name, { hyco: 'arc-agent', fault });
        const run = await runArcConnect(arcArgs(id), Buffer.alloc(0));
        assert.equal(run.code, 1, run.stderr);
        assert.match(run.stderr, message);
        assert.equal(run.stderr.split('\n').length, 2, `one line:\n${run.stderr}`);
      });
    }
  });

  it('--cloud picks the sovereign cloud\'s ARM token audience', async () => {
    const id = arm.addMachine('gov1', { hyco: 'arc-agent' });
    const run = await runArcConnect([...arcArgs(id, '--port', String(echo.port)), '--cloud', 'AzureUSGovernment'], Buffer.from('gov'));
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.toString(), 'gov');
    assert.match(az.calls().at(-1)!, /--resource https:\/\/management\.usgovcloudapi\.net( |$)/);
  });

  it('AZTUNNEL_ARC_RESOURCE_ID names the machine when --resource-id is not given', async () => {
    const id = arm.addMachine('env1', { hyco: 'arc-agent' });
    const proc = spawnHybridge(['arc', 'connect', '--arm-endpoint', arm.url, '--ca', caFile, '--port', String(echo.port)], { env: env({ AZTUNNEL_ARC_RESOURCE_ID: id }) });
    proc.child.stdin!.end('via-env');
    assert.equal(await withTimeout(waitExit(proc, 20_000), 25_000), 0, proc.output());
    assert.equal(listCredentialCalls('env1'), 1);
  });
});

describe('arc command lines (processes)', { concurrency: true }, () => {
  after(() => stopAll());
  const id = machineId('m1');
  const cases: [string, string[], RegExp][] = [
    ['a malformed --resource-id', ['arc', 'connect', '--resource-id', '/subscriptions/not-a-guid/resourceGroups/rg/providers/Microsoft.HybridCompute/machines/m1'], /^hybridge: --resource-id "\/subscriptions\/not-a-guid\/.*": "not-a-guid" is not a subscription id \(a GUID\); expected \/subscriptions\/\{subscription id\}/],
    ['a missing machine', ['arc', 'port-forward'], /^hybridge: no machine given: pass --resource-id .* \(or set AZTUNNEL_ARC_RESOURCE_ID\)\n$/],
    ['an unknown --service', ['arc', 'connect', '--resource-id', id, '--service', 'RDP'], /^hybridge: --service must be SSH or WAC, not "RDP"\n$/],
    ['a bad --port', ['arc', 'connect', '--resource-id', id, '--port', '70000'], /^hybridge: --port must be a number from 0 to 65535, not "70000"\n$/],
    ['an unknown --cloud', ['arc', 'connect', '--resource-id', id, '--cloud', 'AzureGermanCloud'], /^hybridge: --cloud must be one of AzureCloud, AzureUSGovernment, AzureChinaCloud, not "AzureGermanCloud"\n$/],
    ['a plain-HTTP --arm-endpoint', ['arc', 'connect', '--resource-id', id, '--arm-endpoint', 'http://127.0.0.1:1'], /^hybridge: --arm-endpoint "http:\/\/127\.0\.0\.1:1" must be an https:\/\/ URL/],
    ['a zero --timeout', ['arc', 'connect', '--resource-id', id, '--timeout', '0s'], /^hybridge: --timeout must be more than zero, not "0s"\n$/],
    ['an invalid --bind', ['arc', 'port-forward', '--resource-id', id, '-b', '::1:22'], /^hybridge: --bind "::1:22": IPv6 addresses must be bracketed: \[::1\]:22\n$/],
    ['--arc-ports without --arc-compatible', ['relay-listener', '--relay', 'ws://127.0.0.1:1', '--hyco', 'h', '--arc-ports', '22'], /^hybridge: --arc-ports needs --arc-compatible\n$/],
    ['a bad --arc-ports list', ['relay-listener', '--relay', 'ws://127.0.0.1:1', '--hyco', 'h', '--arc-compatible', '--arc-ports', '22,,6516'], /^hybridge: --arc-ports "22,,6516": an entry is empty\n$/],
  ];
  for (const [what, args, message] of cases) {
    it(`rejects ${what} with exit code 2`, async () => {
      const proc = spawnHybridge(args, { env: arcEnv() });
      assert.equal(await waitExit(proc, 10_000), 2, proc.output());
      assert.match(proc.output(), message);
      assert.equal(proc.output().split('\n').length, 2, proc.output());
    });
  }
});
