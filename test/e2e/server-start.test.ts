/**
 * `hybridge server` from a new user's side: a failed start leaves nothing behind, keys come from a
 * flag, a file or a variable and are printed only when generated, and every mistake in the command
 * line, a URL or a certificate file is one line with exit code 2.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { generateSelfSignedCertificate } from '../../src/relay/self-signed.js';
import { listenTcp } from '../helpers/async.js';
import { spawnHybridge, stopAll } from '../helpers/processes.js';
import { RedisServer } from '../cluster/redis-server.js';
import { cleanEnv, connectionString, oneLine, printedRootConnectionString, ROOT_RULE, runCli, startServer } from '../relay/management-cli-kit.js';

const ROOT_KEY = 'server-start-root-key-0123456789';

describe('hybridge server: start-up', () => {
  const root = mkdtempSync(join(tmpdir(), 'hybridge-server-start-'));
  let dirs = 0;
  const freshDataDir = () => join(root, `data-${++dirs}`, 'relay');

  after(async () => {
    await stopAll();
    rmSync(root, { recursive: true, force: true });
  });

  test('a port that is taken leaves no data directory, lock or namespace; the next start creates the namespace and prints its key', async () => {
    const data = freshDataDir();
    const blocker = await listenTcp((socket) => socket.destroy());
    try {
      const failed = await runCli(['server', '--host', '127.0.0.1', '--port', String(blocker.port), '--data', data]);
      assert.equal(failed.code, 1, failed.stderr);
      assert.equal(oneLine(failed.stderr), `hybridge: port ${blocker.port} on 127.0.0.1 is already in use; pick another with --port`);
      assert.equal(failed.stdout, '', 'no connection string for a namespace that cannot serve');
      assert.equal(existsSync(data), false, 'nothing was written before the port was bound');
    } finally {
      await blocker.close();
    }
    const server = await startServer(['--data', data], { firstStart: true });
    const printed = printedRootConnectionString(server.proc.output());
    assert.ok(printed, 'the first start that can serve prints the root connection string');
    assert.equal((await runCli(['hyco', 'list', '-x', printed])).code, 0);
    await server.proc.stop('SIGTERM');
  });

  test('a key the user gave is never printed; --root-key-file and HYBRIDGE_ROOT_KEY set it like --root-key', async () => {
    const keyFile = join(root, 'root.key');
    writeFileSync(keyFile, `${ROOT_KEY}\n`, { mode: 0o600 });
    const starts: [string, string[], NodeJS.ProcessEnv, string][] = [
      ['--root-key', ['--root-key', ROOT_KEY], cleanEnv(), '--root-key'],
      ['--root-key-file', ['--root-key-file', keyFile], cleanEnv(), `--root-key-file ${keyFile}`],
      ['HYBRIDGE_ROOT_KEY', [], cleanEnv({ HYBRIDGE_ROOT_KEY: ROOT_KEY }), '$HYBRIDGE_ROOT_KEY'],
    ];
    for (const [label, flags, env, where] of starts) {
      const data = freshDataDir();
      const server = await startServer(['--data', data, ...flags], { env });
      await server.proc.waitForOutput(/Created a new namespace/, 5000);
      const output = server.proc.output();
      assert.doesNotMatch(output, new RegExp(ROOT_KEY), `${label}: the key is not printed`);
      assert.equal(printedRootConnectionString(output), undefined, label);
      assert.ok(output.includes(`Created a new namespace in ${data}; the key of RootManageSharedAccessKey is the one from ${where}.`), `${label}: ${output}`);
      const listed = await runCli(['hyco', 'list', '-x', connectionString(server.port, ROOT_RULE, ROOT_KEY)]);
      assert.equal(listed.code, 0, `${label}: the given key is the root key: ${listed.stderr}`);
      await server.proc.stop('SIGTERM');
    }
    const both = await runCli(['server', '--port', '0', '--data', freshDataDir(), '--root-key', ROOT_KEY, '--root-key-file', keyFile]);
    assert.equal(both.code, 2);
    assert.equal(oneLine(both.stderr), 'hybridge: give either --root-key or --root-key-file, not both');
    const empty = join(root, 'empty.key');
    writeFileSync(empty, '\n');
    const cases: [string[], NodeJS.ProcessEnv, string][] = [
      [['--root-key-file', empty], cleanEnv(), `hybridge: --root-key-file: ${empty} is empty`],
      [['--root-key-file', join(root, 'missing.key')], cleanEnv(), `hybridge: --root-key-file: cannot read ${join(root, 'missing.key')} (no such file)`],
      [[], cleanEnv({ HYBRIDGE_ROOT_KEY: 'short' }), 'hybridge: $HYBRIDGE_ROOT_KEY: the root key must be 16 to 256 printable characters without spaces or ";"'],
    ];
    for (const [flags, env, expected] of cases) {
      const data = freshDataDir();
      const result = await runCli(['server', '--port', '0', '--data', data, ...flags], env);
      assert.equal(result.code, 2, result.stderr);
      assert.equal(oneLine(result.stderr), expected);
      assert.equal(existsSync(data), false);
    }
  });

  test('--public-url must be scheme://host[:port]; anything else is one line with exit 2', async () => {
    const bad = ['foo', 'relay.example.com', 'ftp://relay.example.com', 'wss://relay.example.com/path', 'wss://relay.example.com?x=1', 'wss://user:pw@relay.example.com', 'wss://'];
    await Promise.all(
      bad.map(async (url) => {
        const data = freshDataDir();
        const result = await runCli(['server', '--host', '127.0.0.1', '--port', '0', '--data', data, '--public-url', url]);
        assert.equal(result.code, 2, `${url}: ${result.stderr}`);
        const line = oneLine(result.stderr);
        assert.ok(line?.startsWith(`hybridge: --public-url "${url}"`), `${url}: ${result.stderr}`);
        assert.equal(existsSync(data), false);
      }),
    );
    const good = await startServer(['--data', freshDataDir(), '--public-url', 'wss://relay.example.com:8443/'], { firstStart: true });
    assert.match(printedRootConnectionString(good.proc.output())!, /^Endpoint=sb:\/\/relay\.example\.com:8443\//);
    await good.proc.stop('SIGTERM');
  });

  test('a junk PEM, a key of another certificate or a missing file exits 2 naming the file, leaving nothing behind', async () => {
    const a = generateSelfSignedCertificate(['localhost']);
    const b = generateSelfSignedCertificate(['localhost']);
    const file = (name: string, text: string) => {
      const path = join(root, name);
      writeFileSync(path, text);
      return path;
    };
    const certA = file('a-cert.pem', a.cert);
    const keyA = file('a-key.pem', a.key);
    const keyB = file('b-key.pem', b.key);
    const junk = file('junk.pem', 'this is not a certificate\n');
    const missing = join(root, 'missing.pem');
    const cases: [string, string, string][] = [
      [junk, keyA, `hybridge: --tls-cert ${junk} is not a usable PEM certificate (no start line); it must hold "-----BEGIN CERTIFICATE-----" blocks, the server's certificate first`],
      [certA, junk, `hybridge: --tls-key ${junk} is not a usable PEM private key (unsupported); it must hold one "-----BEGIN ... PRIVATE KEY-----" block without a passphrase`],
      [certA, keyB, `hybridge: --tls-key ${keyB} is not the private key of the certificate in --tls-cert ${certA}`],
      [keyA, keyA, `hybridge: --tls-cert ${keyA} is not a usable PEM certificate (no start line); it must hold "-----BEGIN CERTIFICATE-----" blocks, the server's certificate first`],
      [missing, keyA, `hybridge: --tls-cert: cannot read ${missing} (no such file)`],
    ];
    for (const [cert, key, expected] of cases) {
      const data = freshDataDir();
      const result = await runCli(['server', '--host', '127.0.0.1', '--port', '0', '--data', data, '--tls-cert', cert, '--tls-key', key]);
      assert.equal(result.code, 2, result.stderr);
      assert.equal(oneLine(result.stderr), expected);
      assert.equal(existsSync(data), false, 'no lock file, no namespace');
    }
    // A data directory that exists keeps only what it had.
    const data = freshDataDir();
    mkdirSync(data, { recursive: true });
    const result = await runCli(['server', '--host', '127.0.0.1', '--port', '0', '--data', data, '--tls-cert', certA, '--tls-key', keyB]);
    assert.equal(result.code, 2);
    assert.deepEqual(readdirSync(data), []);
    const served = await startServer(['--data', data, '--tls-cert', certA, '--tls-key', keyA]);
    assert.match(served.url, /^wss:/);
    await served.proc.stop('SIGTERM');
  });

  test('--data on a cluster node is ignored, and the server says so', async () => {
    const redis = await RedisServer.start();
    try {
      const proc = spawnHybridge(['server', '--host', '127.0.0.1', '--port', '0', '--redis', redis.url, '--public-url', 'ws://127.0.0.1:1', '--data', freshDataDir()], { env: cleanEnv() });
      await proc.waitForOutput(/WARN\s+--data is ignored in cluster mode: the namespace lives in Redis/, 15_000);
      await proc.waitForOutput(/relay listening/, 15_000);
      assert.equal(await proc.stop('SIGTERM'), 0, proc.output());
    } finally {
      await redis.stop();
    }
  });
});
