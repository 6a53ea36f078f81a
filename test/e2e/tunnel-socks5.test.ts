/**
 * `hybridge relay-sender socks5-proxy` as a real process: curl --socks5-hostname against a local HTTP
 * server, every address type through a hand-written SOCKS5 client, RFC 1929 authentication, and
 * refusals mapped to SOCKS5 reply codes (0x02 ruleset, 0x05 refused, 0x06 timeout).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { patternBytes, sha256 } from '../helpers/data.js';
import { stopAll } from '../helpers/processes.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { blackholePort, echoServer, exchange, KiB, MiB, requireTool, socks5Connect, startListener, startSocks, type LocalSender, type TestServer } from '../tunnel/tunnel-kit.js';

const run = promisify(execFile);
const HYCOS = ['sx-main', 'sx-auth'];

describe('relay-sender socks5-proxy (processes)', () => {
  let relay: TestRelay;
  let echo: TestServer;
  let echo6: TestServer;
  let http: Server;
  let httpPort: number;
  let socks: LocalSender;
  let hole: { port: number; close(): void };
  let closedPort: number;
  const file = patternBytes(2 * MiB + 333, 81);

  before(async () => {
    relay = await startRelay({ hybridConnections: HYCOS });
    echo = await echoServer();
    echo6 = await echoServer('::1');
    hole = await blackholePort();
    const closed = await echoServer();
    closedPort = closed.port;
    await closed.close();
    http = createServer((req, res) => {
      if (req.url === '/file') res.end(file);
      else res.writeHead(404).end();
    });
    http.listen(0, '127.0.0.1');
    await new Promise((resolve) => http.once('listening', resolve));
    httpPort = (http.address() as AddressInfo).port;
    const allow = ['--allow', '127.0.0.0/8:*', '--allow', `[::1]:${echo6.port}`, '--allow', `localhost:${echo.port}`];
    [, socks] = await Promise.all([startListener(relay, 'sx-main', [...allow, '--connect-timeout', '400ms']), startSocks(relay, 'sx-main')]);
  });
  after(async () => {
    await stopAll();
    hole.close();
    await new Promise((resolve) => http.close(resolve));
    await echo.close();
    await echo6.close();
    await relay.stop();
  });

  it('serves curl --socks5-hostname, the body checked by length and SHA-256', async () => {
    requireTool('curl', 'curl');
    const { stdout } = await run('curl', ['-sS', '--fail', '--max-time', '20', '--socks5-hostname', `127.0.0.1:${socks.port}`, `http://127.0.0.1:${httpPort}/file`], { encoding: 'buffer', maxBuffer: 16 * MiB });
    assert.equal(stdout.length, file.length);
    assert.equal(sha256(stdout), sha256(file));
    const named = await run('curl', ['-sS', '--fail', '--max-time', '20', '--socks5-hostname', `127.0.0.1:${socks.port}`, `http://localhost:${httpPort}/file`], { encoding: 'buffer', maxBuffer: 16 * MiB }).catch((err: { code?: number }) => err);
    // curl 7.73+ exits 97 (proxy handshake failed) on a SOCKS5 refusal, older ones 7.
    assert.ok([7, 97].includes((named as { code?: number }).code ?? 0), 'localhost is allowed only on the echo port: curl reports the proxy refusal');
  });

  it('connects IPv4, IPv6 and domain-name addresses and carries their bytes', async () => {
    const targets = [
      { type: 'ipv4' as const, host: '127.0.0.1', port: echo.port },
      { type: 'ipv6' as const, host: '::1', port: echo6.port },
      { type: 'domain' as const, host: 'localhost', port: echo.port },
    ];
    for (const [i, target] of targets.entries()) {
      const result = await socks5Connect(socks.port, target);
      assert.equal(result.method, 0, 'no authentication');
      assert.equal(result.reply, 0, `${target.type} CONNECT succeeds`);
      const payload = patternBytes(256 * KiB + i, 90 + i);
      assert.equal((await exchange(result.socket, payload)).sha256, sha256(payload), `${target.type} bytes`);
    }
  });

  it('maps refusals to SOCKS5 reply codes: 0x02 not allowed, 0x05 refused, 0x06 timeout', async () => {
    const cases: [string, Parameters<typeof socks5Connect>[1], number][] = [
      ['not allowed', { type: 'ipv6', host: '::1', port: echo.port }, 0x02],
      ['not allowed by name', { type: 'domain', host: 'localhost', port: httpPort }, 0x02],
      ['refused', { type: 'ipv4', host: '127.0.0.1', port: closedPort }, 0x05],
      ['timeout', { type: 'ipv4', host: '127.0.0.1', port: hole.port }, 0x06],
    ];
    for (const [what, target, reply] of cases) {
      const result = await socks5Connect(socks.port, target);
      assert.equal(result.reply, reply, what);
      result.socket.destroy();
    }
  });

  it('requires username/password when configured (RFC 1929), accepting the right pair only', async () => {
    await startListener(relay, 'sx-auth', ['--allow', `127.0.0.1:${echo.port}`]);
    const authed = await startSocks(relay, 'sx-auth', ['--socks-user', 'alice'], { HYBRIDGE_SOCKS_PASSWORD: 'wonder land' });
    const target = { type: 'ipv4' as const, host: '127.0.0.1', port: echo.port };
    const good = await socks5Connect(authed.port, target, { user: 'alice', password: 'wonder land' });
    assert.equal(good.method, 2);
    assert.equal(good.authStatus, 0);
    assert.equal(good.reply, 0);
    const payload = patternBytes(64 * KiB, 99);
    assert.equal((await exchange(good.socket, payload)).sha256, sha256(payload));

    const wrong = await socks5Connect(authed.port, target, { user: 'alice', password: 'wonderland' });
    assert.equal(wrong.authStatus, 1, 'a wrong password is refused');
    wrong.socket.destroy();
    const none = await socks5Connect(authed.port, target);
    assert.equal(none.method, 0xff, 'a client without credentials is refused');
    none.socket.destroy();
    assert.match(authed.proc.output(), /authentication failed for user \\?"alice\\?"/);
    assert.doesNotMatch(authed.proc.output(), /wonder/, 'passwords never reach the log');
  });
});
