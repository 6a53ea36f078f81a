/**
 * `hybridge relay-sender connect` as a real `ssh -o ProxyCommand` against an sshd started by the
 * test on loopback, on plain stdin/stdout (half-close), and its one-line errors and exit codes;
 * plus command-line validation of the tunnel commands.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { patternBytes, sha256 } from '../helpers/data.js';
import { HYBRIDGE_BIN, spawnHybridge, stopAll, waitExit } from '../helpers/processes.js';
import { runSsh, sshArgs, startSshd } from '../helpers/sshd.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { answerAfterEofServer, blackholePort, echoServer, KiB, MiB, runConnect, runConnectWithoutInput, startListener, tunnelEnv, type TestServer } from '../tunnel/tunnel-kit.js';

const HYCOS = ['cx-ssh', 'cx-stdio', 'cx-errors'];

function proxyCommand(relay: TestRelay, hyco: string): string {
  return `'${process.execPath}' '${HYBRIDGE_BIN}' relay-sender connect --relay ${relay.wsBase} --hyco ${hyco} %h:%p`;
}

describe('relay-sender connect (processes)', () => {
  let relay: TestRelay;
  let dir: string;
  before(async () => {
    relay = await startRelay({ hybridConnections: HYCOS });
    dir = mkdtempSync(join(tmpdir(), 'hybridge-ssh-'));
  });
  after(async () => {
    await stopAll();
    await relay.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('works as ssh -o ProxyCommand against a real sshd', async () => {
    const sshd = await startSshd(dir);
    await startListener(relay, 'cx-ssh', ['--allow', `127.0.0.1:${sshd.port}`]);
    const hello = await runSsh(sshArgs(sshd, proxyCommand(relay, 'cx-ssh'), 'echo hello-through-hybridge'), tunnelEnv());
    assert.equal(hello.code, 0, `ssh failed: ${hello.stderr}\nsshd: ${sshd.proc.output()}`);
    assert.equal(hello.stdout.toString(), 'hello-through-hybridge\n');

    const payload = patternBytes(MiB + 7, 101);
    const hashed = await runSsh(sshArgs(sshd, proxyCommand(relay, 'cx-ssh'), 'sha256sum'), tunnelEnv(), payload);
    assert.equal(hashed.code, 0, hashed.stderr);
    assert.equal(hashed.stdout.toString().split(' ')[0], sha256(payload), 'sshd received every byte');
    await sshd.proc.stop('SIGTERM');
  });

  it('carries stdin to the target and the whole reply to stdout, with half-close', async () => {
    const reply = patternBytes(700 * KiB, 102);
    const server = await answerAfterEofServer(reply);
    try {
      const target = `127.0.0.1:${server.port}`;
      await startListener(relay, 'cx-stdio', ['--allow', target]);
      const request = patternBytes(300 * KiB, 103);
      const connect = await runConnect(relay, 'cx-stdio', target, request, 20_000);
      assert.equal(connect.code, 0, connect.proc.output());
      const received = connect.stdout;
      const header = `${request.length} ${sha256(request)}\n`;
      assert.equal(received.subarray(0, header.length).toString(), header);
      assert.equal(received.length, header.length + reply.length);
      assert.equal(sha256(received.subarray(header.length)), sha256(reply));
    } finally {
      await server.close();
    }
  });

  describe('failures: one line and exit code 1', () => {
    let echo: TestServer;
    let hole: { port: number; close(): void };
    let closedPort: number;
    before(async () => {
      echo = await echoServer();
      hole = await blackholePort();
      const closed = await echoServer();
      closedPort = closed.port;
      await closed.close();
      await startListener(relay, 'cx-errors', ['--allow', '127.0.0.1:*', '--connect-timeout', '300ms']);
    });
    after(async () => {
      hole.close();
      await echo.close();
    });

    const cases: [string, () => string, RegExp][] = [
      ['a refused target', () => `127.0.0.1:${closedPort}`, /^hybridge: relay-sender connect: target 127\.0\.0\.1:\d+ refused the connection \(connection_refused\)\n$/],
      ['a target that never answers', () => `127.0.0.1:${hole.port}`, /^hybridge: relay-sender connect: target 127\.0\.0\.1:\d+ did not answer within the listener's --connect-timeout \(timeout\)\n$/],
      ['a target outside the allowlist', () => `127.0.0.2:${echo.port}`, /^hybridge: relay-sender connect: the listener's --allow list does not permit 127\.0\.0\.2:\d+ \(target not allowed\)\n$/],
    ];
    for (const [what, target, message] of cases) {
      it(`reports ${what}`, async () => {
        const connect = await runConnectWithoutInput(relay, 'cx-errors', target(), 15_000);
        assert.equal(connect.code, 1);
        assert.match(connect.output, message);
      });
    }
  });
});

describe('tunnel command lines (processes)', { concurrency: true }, () => {
  after(() => stopAll());
  const cases: [string, string[], Record<string, string | undefined>, RegExp][] = [
    ['invalid --allow entries, one line each', ['relay-listener', '--relay', 'ws://127.0.0.1:1', '--hyco', 'h', '--allow', '10.0.0.0/33:22', '--allow', '::1:22', '--allow', '*'], {}, /^hybridge: invalid --allow entry "10\.0\.0\.0\/33:22": prefix length "33" is not a number from 0 to 32\nhybridge: invalid --allow entry "::1:22": IPv6 addresses and networks must be bracketed, e\.g\. \[::1\]:22\n$/],
    ['a missing hybrid connection', ['relay-listener', '--relay', 'ws://127.0.0.1:1'], {}, /^hybridge: no hybrid connection given: pass --hyco \(or set AZTUNNEL_HYCO_NAME\)\n$/],
    ['a missing relay', ['relay-sender', 'connect', '127.0.0.1:22', '--hyco', 'h'], {}, /^hybridge: no relay given: pass --relay \(or set AZTUNNEL_RELAY_NAME\) or --connection-string\n$/],
    ['a bare host:port relay', ['relay-sender', 'socks5-proxy', '--relay', '127.0.0.1:9350', '--hyco', 'h'], {}, /^hybridge: --relay: invalid relay "127\.0\.0\.1:9350": a bare host:port is ambiguous; write wss:\/\/127\.0\.0\.1:9350 for a TLS relay or ws:\/\/127\.0\.0\.1:9350 for a plain one\n$/],
    ['an invalid target', ['relay-sender', 'port-forward', '10.0.0.5', '--relay', 'ws://127.0.0.1:1', '--hyco', 'h'], {}, /^hybridge: port-forward: invalid target: "10\.0\.0\.5" has no port; write host:port\n$/],
    ['an invalid --bind', ['relay-sender', 'port-forward', '10.0.0.5:22', '--relay', 'ws://127.0.0.1:1', '--hyco', 'h', '-b', '::1:22'], {}, /^hybridge: --bind "::1:22": IPv6 addresses must be bracketed: \[::1\]:22\n$/],
    ['a SOCKS5 user without password', ['relay-sender', 'socks5-proxy', '--relay', 'ws://127.0.0.1:1', '--hyco', 'h', '--socks-user', 'alice'], {}, /^hybridge: SOCKS5 authentication needs both a user and a password/],
    ['a zero --connect-timeout', ['relay-listener', '--relay', 'ws://127.0.0.1:1', '--hyco', 'h', '--connect-timeout', '0s'], {}, /^hybridge: --connect-timeout must be more than zero, not "0s"\n$/],
  ];
  for (const [what, args, env, message] of cases) {
    it(`rejects ${what} with exit code 2`, async () => {
      const proc = spawnHybridge(args, { env: tunnelEnv(env) });
      assert.equal(await waitExit(proc, 10_000), 2, proc.output());
      assert.match(proc.output(), message);
    });
  }
});
