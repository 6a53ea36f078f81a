import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { listenTcp } from '../helpers/async.js';
import { spawnHybridge, stopAll, waitExit } from '../helpers/processes.js';
import { cleanEnv, cliJson, connectionString, oneLine, printedRootConnectionString, ROOT_RULE, runCli, startServer } from '../relay/management-cli-kit.js';

const ROOT_KEY = 'server-cli-root-key-0123456789';

describe('hybridge server (process)', () => {
  const root = mkdtempSync(join(tmpdir(), 'hybridge-server-cli-'));
  let dirs = 0;
  const freshDataDir = () => join(root, `data-${++dirs}`, 'relay');

  after(async () => {
    await stopAll();
    rmSync(root, { recursive: true, force: true });
  });

  test('first start prints the generated root connection string once; a restart keeps every entity, rule and key', async () => {
    const data = freshDataDir();
    const first = await startServer(['--data', data, '--hyco', 'a', '--hyco', 'b'], { firstStart: true });
    const rootCs = printedRootConnectionString(first.proc.output())!;
    const generatedKey = /SharedAccessKey=([^;]+)$/.exec(rootCs)![1]!;
    assert.equal(rootCs, connectionString(first.port, ROOT_RULE, generatedKey));
    assert.equal(Buffer.from(generatedKey, 'base64').length, 32, 'a random 256-bit key');
    assert.equal(first.proc.output().match(/Root connection string/g)?.length, 1);

    const x = ['-x', rootCs];
    const names = (await cliJson<{ name: string }[]>(['hyco', 'list', ...x])).map((h) => h.name).sort();
    assert.deepEqual(names, ['a', 'b'], '--hyco a --hyco b exist after start');

    assert.equal(statSync(data).mode & 0o777, 0o700, 'data directory mode');
    assert.equal(statSync(join(data, 'namespace.json')).mode & 0o777, 0o600, 'namespace file mode');

    // Build up state at both scopes, including a renewed key, then snapshot it.
    await cliJson(['hyco', 'create', '-n', 'team/app.v1', '--requires-client-authorization', 'false', '--user-metadata', 'kept', ...x]);
    await cliJson(['hyco', 'authorization-rule', 'create', '--hybrid-connection-name', 'a', '-n', 'listen', '--rights', 'Listen', ...x]);
    await cliJson(['hyco', 'authorization-rule', 'create', '--hybrid-connection-name', 'team/app.v1', '-n', 'both', '--rights', 'Listen', 'Send', ...x]);
    await cliJson(['namespace', 'authorization-rule', 'create', '-n', 'ops', '--rights', 'Manage', ...x]);
    await cliJson(['namespace', 'authorization-rule', 'keys', 'renew', '-n', 'ops', '--key', 'SecondaryKey', ...x]);
    const snapshot = async () => ({
      hycos: await cliJson(['hyco', 'list', ...x]),
      namespaceRules: await cliJson(['namespace', 'authorization-rule', 'list', ...x]),
      keys: [
        await cliJson(['namespace', 'authorization-rule', 'keys', 'list', '-n', ROOT_RULE, ...x]),
        await cliJson(['namespace', 'authorization-rule', 'keys', 'list', '-n', 'ops', ...x]),
        await cliJson(['hyco', 'authorization-rule', 'keys', 'list', '--hybrid-connection-name', 'a', '-n', 'listen', ...x]),
        await cliJson(['hyco', 'authorization-rule', 'keys', 'list', '--hybrid-connection-name', 'team/app.v1', '-n', 'both', ...x]),
      ],
    });
    const before = await snapshot();
    assert.equal(await first.proc.stop('SIGTERM'), 0, 'SIGTERM drains and exits 0');
    assert.deepEqual(readdirSync(data).sort(), ['namespace.json'], 'lock released, no temp files left');

    // Same port, so that connection strings compare byte for byte; no --root-key this time.
    const second = await startServer(['--data', data, '--port', String(first.port), '--hyco', 'a']);
    const after = await snapshot();
    assert.deepEqual(after, before);
    assert.equal(printedRootConnectionString(second.proc.output()), undefined, 'no root connection string on a later start');
    assert.ok(!second.proc.output().includes(generatedKey));
    await second.proc.stop('SIGTERM');

    // A different --root-key on an existing namespace changes nothing, and the server says so.
    const otherKey = 'another-root-key-9876543210';
    const third = await startServer(['--data', data, '--port', String(first.port), '--root-key', otherKey]);
    assert.deepEqual(await snapshot(), before);
    assert.match(third.proc.output(), /--root-key was ignored: the namespace already exists/);
    assert.doesNotMatch(third.proc.output(), new RegExp(otherKey));
    await third.proc.stop('SIGTERM');
    const fourth = await startServer(['--data', data, '--port', String(first.port), '--root-key', generatedKey]);
    assert.doesNotMatch(fourth.proc.output(), /--root-key was ignored/, 'no warning when --root-key matches');
    await fourth.proc.stop('SIGTERM');
  });

  test('a second server on the same data directory fails with a clear message', async () => {
    const data = freshDataDir();
    const first = await startServer(['--data', data], { firstStart: true });
    const second = spawnHybridge(['server', '--host', '127.0.0.1', '--port', '0', '--data', data], { env: cleanEnv() });
    assert.equal(await waitExit(second), 1);
    const line = oneLine(second.output());
    assert.ok(line, `one line expected, got: ${second.output()}`);
    assert.match(line, new RegExp(`^hybridge: another hybridge server \\(pid ${first.proc.child.pid}\\) is using the data directory .*; stop it or pick another --data directory$`));
    // The first server is unharmed.
    const rootCs = printedRootConnectionString(first.proc.output())!;
    assert.equal((await runCli(['hyco', 'list', '-x', rootCs])).code, 0);
    await first.proc.stop('SIGTERM');
  });

  test('a busy port fails with a clear message', async () => {
    const blocker = await listenTcp((socket) => socket.destroy());
    try {
      const proc = spawnHybridge(['server', '--host', '127.0.0.1', '--port', String(blocker.port), '--data', freshDataDir()], { env: cleanEnv() });
      assert.equal(await waitExit(proc), 1);
      assert.equal(oneLine(proc.output()), `hybridge: port ${blocker.port} on 127.0.0.1 is already in use; pick another with --port`);
    } finally {
      await blocker.close();
    }
  });

  test('--tls-self-signed serves HTTPS; the CLI trusts it with --ca or NODE_EXTRA_CA_CERTS and refuses it otherwise', async () => {
    const data = freshDataDir();
    const server = await startServer(['--data', data, '--tls-self-signed', '--root-key', ROOT_KEY]);
    assert.match(server.url, /^wss:\/\/127\.0\.0\.1:\d+$/);
    const certFile = join(data, 'tls-cert.pem');
    const rootCs = connectionString(server.port, ROOT_RULE, ROOT_KEY, { secure: true });

    const trusted = await runCli(['hyco', 'create', '-n', 'over-tls', '-x', rootCs!, '--ca', certFile]);
    assert.equal(trusted.code, 0, trusted.stderr);
    assert.equal(JSON.parse(trusted.stdout).name, 'over-tls');

    const viaEnv = await runCli(['hyco', 'show', '-n', 'over-tls', '-x', rootCs!], cleanEnv({ NODE_EXTRA_CA_CERTS: certFile }));
    assert.equal(viaEnv.code, 0, viaEnv.stderr);

    const untrusted = await runCli(['hyco', 'list', '-x', rootCs!]);
    assert.equal(untrusted.code, 1);
    assert.equal(
      oneLine(untrusted.stderr),
      `hybridge: cannot talk to the relay at https://127.0.0.1:${server.port} (TLS certificate rejected: self-signed certificate); trust its certificate with --ca FILE or NODE_EXTRA_CA_CERTS=FILE`,
    );

    const plain = await runCli(['hyco', 'list', '-x', rootCs!.replace('Endpoint=sb://', 'Endpoint=ws://')]);
    assert.equal(plain.code, 1);
    assert.match(oneLine(plain.stderr) ?? plain.stderr, /^hybridge: the relay at http:\/\/127\.0\.0\.1:\d+ closed the connection without an answer; if it serves TLS, use an sb:\/\/ Endpoint$/);
    await server.proc.stop('SIGTERM');
  });

  test('bad flags exit 2 with one line', async () => {
    const certOnly = join(root, 'cert-only.pem');
    writeFileSync(certOnly, 'not used');
    const cases: [string[], RegExp][] = [
      [['--port', 'abc'], /^hybridge: --port must be a number from 0 to 65535, not "abc"$/],
      [['--max-listeners', '0'], /^hybridge: --max-listeners must be a whole number from 1 to 1000, not "0"$/],
      [['--tls-cert', certOnly], /^hybridge: --tls-cert and --tls-key go together$/],
      [['--root-key', 'short'], /^hybridge: --root-key: the root key must be 16 to 256 printable characters without spaces or ";"$/],
      [['--root-key', 'sixteen-chars;0123'], /^hybridge: --root-key: the root key must be 16 to 256 printable characters without spaces or ";"$/],
    ];
    await Promise.all(
      cases.map(async ([flags, expected]) => {
        const result = await runCli(['server', '--host', '127.0.0.1', '--port', '0', '--data', freshDataDir(), ...flags]);
        assert.equal(result.code, 2, `${flags.join(' ')}: ${result.stderr}`);
        assert.match(oneLine(result.stderr) ?? result.stderr, expected);
        assert.equal(result.stdout, '');
      }),
    );
  });

  test('binding 0.0.0.0 without TLS logs a warning', async () => {
    const server = await startServer(['--data', freshDataDir(), '--host', '0.0.0.0']);
    await server.proc.waitForOutput(/WARN\s+serving plain HTTP\/WebSocket on a non-loopback address.*use --tls-cert\/--tls-key or --tls-self-signed/, 5000);
    await server.proc.stop('SIGTERM');
  });
});
