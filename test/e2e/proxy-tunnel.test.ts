/**
 * `relay-listener` and `relay-sender` (port-forward, socks5-proxy, connect) as real processes
 * through real proxies: squid (HTTP CONNECT, with and without Basic authentication) and Dante
 * (SOCKS5 with username/password), over ws:// and TLS. Checked: SHA-256 of what crossed, the
 * proxy's log showing it carried the connections, --proxy and the environment variables (a relay
 * name only the proxy resolves), NO_PROXY and --no-proxy going direct, and the one-line errors of
 * wrong credentials, a proxy that is down, and malformed settings (exit 2), with no password shown.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { delay, freePort, waitFor } from '../helpers/async.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { createThrowawayUser, startDante, type TestDante, type ThrowawayUser } from '../helpers/dante.js';
import { runHybridgeWithInput, spawnHybridge, stopAll, waitExit, type RunningProcess } from '../helpers/processes.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { proxyVariables, RELAY_TEST_HOST, startSquid, type TestSquid } from '../helpers/squid.js';
import { echoServer, KiB, roundTrip, socks5Connect, exchange, tunnelEnv, type TestServer } from '../tunnel/tunnel-kit.js';

const USER = { user: 'tunnel-user', password: 's3cret:p@ss' };
const HYCOS = ['px-pf', 'px-socks', 'px-env', 'px-errors', 'px-direct', 'px-dante'];

interface Setup {
  relay: TestRelay;
  echo: TestServer;
  dir: string;
  /** --relay and --ca for `hyco` on the relay, by `host`. */
  args(hyco: string, host?: string): string[];
}

async function setUp(tls: boolean): Promise<Setup> {
  const relay = await startRelay({ tls, tlsNames: [RELAY_TEST_HOST], hybridConnections: HYCOS });
  const echo = await echoServer();
  const dir = mkdtempSync(join(tmpdir(), 'hybridge-proxy-tunnel-'));
  if (relay.ca) writeFileSync(join(dir, 'relay.pem'), relay.ca);
  const args = (hyco: string, host = '127.0.0.1') => ['--relay', `${tls ? 'wss' : 'ws'}://${host}:${relay.port}`, '--hyco', hyco, ...(tls ? ['--ca', join(dir, 'relay.pem')] : [])];
  return { relay, echo, dir, args };
}

async function listener(setup: Setup, hyco: string, extra: string[], env: Record<string, string | undefined> = proxyVariables()): Promise<RunningProcess> {
  const proc = spawnHybridge(['relay-listener', ...setup.args(hyco, hostOf(extra)), '--allow', `127.0.0.1:${setup.echo.port}`, ...withoutHost(extra)], { env: tunnelEnv(env) });
  await proc.waitForOutput(/listener online/, 15_000);
  return proc;
}

async function portForward(setup: Setup, hyco: string, extra: string[], env: Record<string, string | undefined> = proxyVariables()): Promise<{ proc: RunningProcess; port: number }> {
  const proc = spawnHybridge(['relay-sender', 'port-forward', `127.0.0.1:${setup.echo.port}`, ...setup.args(hyco, hostOf(extra)), '-b', '127.0.0.1:0', ...withoutHost(extra)], { env: tunnelEnv(env) });
  const m = await proc.waitForOutput(/listening on 127\.0\.0\.1:(\d+), forwarding/, 15_000);
  return { proc, port: Number(m[1]) };
}

/** `--host NAME` in `extra` (a test-only marker) names the relay by NAME instead of 127.0.0.1. */
function hostOf(extra: string[]): string | undefined {
  const i = extra.indexOf('--host');
  return i >= 0 ? extra[i + 1] : undefined;
}

function withoutHost(extra: string[]): string[] {
  const i = extra.indexOf('--host');
  return i >= 0 ? [...extra.slice(0, i), ...extra.slice(i + 2)] : extra;
}

/** `relay-sender connect` with `input`: exit code, stdout, stderr. */
function connectOnce(setup: Setup, hyco: string, extra: string[], input: Buffer, env: Record<string, string | undefined> = proxyVariables()): Promise<{ code: number | string; stdout: Buffer; stderr: string }> {
  const args = ['relay-sender', 'connect', `127.0.0.1:${setup.echo.port}`, ...setup.args(hyco, hostOf(extra)), ...withoutHost(extra)];
  return runHybridgeWithInput(args, tunnelEnv(env), input, 40_000);
}

async function assertCarried(port: number, seed: number, size = 700 * KiB): Promise<void> {
  const payload = patternBytes(size, seed);
  const { received, sha256: digest } = await roundTrip(port, payload);
  assert.equal(received.length, payload.length);
  assert.equal(digest, sha256(payload));
}

for (const tls of [false, true]) {
  describe(`relay-listener and relay-sender through squid (${tls ? 'wss' : 'ws'})`, () => {
    let setup: Setup;
    let squid: TestSquid;
    let authSquid: TestSquid;
    const relayAt = () => `127.0.0.1:${setup.relay.port}`;

    before(async () => {
      setup = await setUp(tls);
      [squid, authSquid] = await Promise.all([startSquid(), startSquid({ users: { [USER.user]: USER.password } })]);
    });
    after(async () => {
      await stopAll();
      await Promise.all([squid?.stop(), authSquid?.stop(), setup?.echo.close()]);
      await setup?.relay.stop();
      rmSync(setup.dir, { recursive: true, force: true });
    });

    it('port-forward: both ends through --proxy, every byte checked, every connection in squid\'s log', async () => {
      const rl = await listener(setup, 'px-pf', ['--proxy', squid.url()]);
      const pf = await portForward(setup, 'px-pf', ['--proxy', squid.url()]);
      await Promise.all([assertCarried(pf.port, 1), assertCarried(pf.port, 2)]);
      await Promise.all([rl.stop(), pf.proc.stop()]);
      // 2 sender tunnels, 2 rendezvous, 1 control channel; squid logs each when it closes.
      const tunnels = await waitFor(() => (squid.tunnelsTo(relayAt()).length >= 5 ? squid.tunnelsTo(relayAt()) : undefined), 10_000, 'tunnels in the log');
      assert.equal(tunnels?.length, 5, JSON.stringify(squid.accesses()));
      assert.match(rl.output(), /relay connections go through a proxy proxy=http:\/\/127\.0\.0\.1:\d+/);
    });

    it('socks5-proxy: Basic credentials from HTTP(S)_PROXY, for a relay name only squid can resolve', async () => {
      const variable = tls ? 'HTTPS_PROXY' : 'HTTP_PROXY';
      const env = proxyVariables({ [variable]: authSquid.url(USER) });
      const rl = await listener(setup, 'px-socks', ['--host', RELAY_TEST_HOST], env);
      const proc = spawnHybridge(['relay-sender', 'socks5-proxy', ...setup.args('px-socks', RELAY_TEST_HOST), '-b', '127.0.0.1:0'], { env: tunnelEnv(env) });
      const port = Number((await proc.waitForOutput(/SOCKS5 proxy listening on 127\.0\.0\.1:(\d+)/, 15_000))[1]);
      const socks = await socks5Connect(port, { type: 'ipv4', host: '127.0.0.1', port: setup.echo.port });
      assert.equal(socks.reply, 0);
      const payload = patternBytes(500 * KiB, 3);
      assert.equal((await exchange(socks.socket, payload)).sha256, sha256(payload));
      await Promise.all([rl.stop(), proc.stop()]);
      const tunnels = await waitFor(() => (authSquid.tunnelsTo(`${RELAY_TEST_HOST}:${setup.relay.port}`).length >= 3 ? authSquid.tunnelsTo(`${RELAY_TEST_HOST}:${setup.relay.port}`) : undefined), 10_000, 'tunnels in the log');
      assert.ok(tunnels?.every((t) => t.user === USER.user), JSON.stringify(tunnels));
      assert.doesNotMatch(rl.output() + proc.output(), /s3cret/);
    });

    it('wrong or missing proxy credentials: one line naming the proxy, no password; connect exits 1 at once', async () => {
      const wrong = authSquid.url({ user: USER.user, password: 'wrong-password' });
      const started = Date.now();
      // Environment proxies leave loopback alone: name the relay as only squid resolves it.
      const run = await connectOnce(setup, 'px-errors', ['--host', RELAY_TEST_HOST], Buffer.from('x'), proxyVariables({ ALL_PROXY: wrong }));
      assert.equal(run.code, 1, run.stderr);
      assert.ok(Date.now() - started < 15_000, 'not retried for the 30 s budget');
      const lines = run.stderr.trim().split('\n');
      assert.equal(lines.length, 1, run.stderr);
      assert.match(lines[0]!, new RegExp(`^hybridge: relay-sender connect: .*proxy http://127\\.0\\.0\\.1:${authSquid.port} refused the tunnel to ${RELAY_TEST_HOST}:${setup.relay.port}: 407 Proxy Authentication Required; check the user name and password in the proxy URL`));
      assert.doesNotMatch(run.stderr, /wrong-password/);

      const rl = spawnHybridge(['relay-listener', ...setup.args('px-errors'), '--proxy', authSquid.url()], { env: tunnelEnv(proxyVariables()) });
      const line = await rl.waitForOutput(/relay problem .*/, 10_000);
      assert.match(line[0], /listening on \\"px-errors\\": proxy http:\/\/127\.0\.0\.1:\d+ refused the tunnel to .*: 407 Proxy Authentication Required; it wants a user name and password/);
      await rl.stop();
    });

    it('a proxy that is down: one line naming it, without its password', async () => {
      const down = `http://someone:hidden-pw@127.0.0.1:${await freePort()}`;
      const rl = spawnHybridge(['relay-listener', ...setup.args('px-errors'), '--proxy', down], { env: tunnelEnv(proxyVariables()) });
      const line = await rl.waitForOutput(/relay problem .*/, 10_000);
      assert.match(line[0], new RegExp(`reason="listening on \\\\"px-errors\\\\": cannot reach proxy ${down.replace('someone:hidden-pw@', '')} \\(connection refused\\)"`));
      assert.match(rl.output(), /--proxy holds a password, which other local users can see in the process list/);
      await rl.stop();
      assert.doesNotMatch(rl.output(), /hidden-pw/);
    });

    it('NO_PROXY keeps even --proxy away from the relay, and --no-proxy connects directly: squid sees nothing', async () => {
      const before = squid.accesses().length;
      const env = proxyVariables({ HTTPS_PROXY: squid.url(), HTTP_PROXY: squid.url(), NO_PROXY: `other.example,127.0.0.1:${setup.relay.port}` });
      const rl = await listener(setup, 'px-direct', ['--proxy', squid.url()], env);
      const pf = await portForward(setup, 'px-direct', ['--no-proxy'], proxyVariables({ ALL_PROXY: squid.url() }));
      await assertCarried(pf.port, 4);
      await Promise.all([rl.stop(), pf.proc.stop()]);
      await delay(300);
      assert.equal(squid.accesses().length, before, JSON.stringify(squid.accesses().slice(before)));
    });
  });
}

describe('proxy settings on the command line (exit 2)', () => {
  for (const [name, args, env, pattern] of [
    ['a URL of an unknown scheme', ['--proxy', 'ftp://proxy:21'], {}, /^hybridge: --proxy: "ftp:\/\/" is not a proxy scheme hybridge speaks/],
    ['an https:// proxy', ['--proxy', 'https://u:topsecret@proxy:443'], {}, /^hybridge: --proxy: https:\/\/ proxies .* are not supported/],
    ['a malformed HTTPS_PROXY', [], { HTTPS_PROXY: 'http://u:topsecret@proxy:99999' }, /^hybridge: HTTPS_PROXY: not a proxy URL/],
    ['a malformed NO_PROXY', ['--proxy', 'http://proxy:3128'], { NO_PROXY: '10.0.0.0/40' }, /^hybridge: NO_PROXY: "10\.0\.0\.0\/40" is not a host name/],
  ] as const) {
    it(`${name}: one line naming the setting, never its password`, async () => {
      const proc = spawnHybridge(['relay-sender', 'connect', '127.0.0.1:22', '--relay', 'ws://127.0.0.1:9', '--hyco', 'x', ...args], { env: tunnelEnv(proxyVariables(env)) });
      proc.child.stdin!.end();
      assert.equal(await waitExit(proc, 10_000), 2, proc.output());
      const lines = proc.output().trim().split('\n');
      assert.equal(lines.length, 1, proc.output());
      assert.match(lines[0]!, pattern);
      assert.doesNotMatch(proc.output(), /topsecret/);
    });
  }
});

describe('relay-listener and relay-sender through a SOCKS5 proxy (Dante, wss)', () => {
  let setup: Setup;
  let dante: TestDante;
  let account: ThrowawayUser;

  before(async () => {
    setup = await setUp(true);
    account = createThrowawayUser();
    dante = await startDante({ usernames: true });
  });
  after(async () => {
    await stopAll();
    await dante?.stop();
    account?.remove();
    await setup?.echo.close();
    await setup?.relay.stop();
    rmSync(setup.dir, { recursive: true, force: true });
  });

  it('port-forward and connect with a username and password from ALL_PROXY, the relay name resolved by the proxy', async () => {
    const env = proxyVariables({ ALL_PROXY: dante.url({ user: account.user, password: account.password }) });
    const rl = await listener(setup, 'px-dante', ['--host', RELAY_TEST_HOST], env);
    const pf = await portForward(setup, 'px-dante', ['--host', RELAY_TEST_HOST], env);
    await assertCarried(pf.port, 5);
    const input = patternBytes(300 * KiB, 6);
    const run = await connectOnce(setup, 'px-dante', ['--host', RELAY_TEST_HOST], input, env);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(sha256(run.stdout), sha256(input));
    await Promise.all([rl.stop(), pf.proc.stop()]);
    // Sender + rendezvous for each of the two tunnels, and the control channel.
    await waitFor(() => dante.sessionsTo(setup.relay.port) >= 5, 10_000, `SOCKS sessions in Dante's log:\n${dante.output()}`);
  });

  it('a wrong password: one line naming the proxy, exit 1 at once', async () => {
    const env = proxyVariables({ ALL_PROXY: dante.url({ user: account.user, password: 'bad-password' }) });
    const run = await connectOnce(setup, 'px-dante', ['--host', RELAY_TEST_HOST], Buffer.from('x'), env);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr.trim(), new RegExp(`^hybridge: relay-sender connect: .*proxy socks5://127\\.0\\.0\\.1:${dante.port} rejected the user name or password; check them in the proxy URL`));
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
    assert.doesNotMatch(run.stderr, /bad-password/);
  });
});
