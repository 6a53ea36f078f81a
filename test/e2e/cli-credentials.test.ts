/**
 * Credentials without command-line secrets, and the command-line mistakes that must end in one line
 * with exit code 2: every command takes its connection string (and the bridge its key or signature)
 * from a file or a variable; a malformed signature, a bad hybrid connection name, a bind address
 * that does not resolve and a Unix socket that is not a path are refused before anything runs.
 */
import assert from 'node:assert/strict';
import { lookup } from 'node:dns/promises';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createSasToken } from '../../src/protocol/sas-token.js';
import { endBridgeSuite, runBridgeToExit, startBridge } from '../bridge/bridge-kit.js';
import { freePort } from '../helpers/async.js';
import { spawnHybridge } from '../helpers/processes.js';
import { ROOT_KEY, ROOT_RULE, startRelay, type TestRelay } from '../helpers/relay.js';
import { cleanEnv, oneLine, runCli } from '../relay/management-cli-kit.js';

describe('credentials from files and variables; one-line usage errors', () => {
  let relay: TestRelay;
  let dir: string;
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  };

  before(async () => {
    relay = await startRelay({ hybridConnections: ['cc-env', 'cc-file', 'cc-key', 'cc-sig', 'cc-tunnel'] });
    dir = mkdtempSync(join(tmpdir(), 'hybridge-cli-credentials-'));
  });
  after(() => endBridgeSuite(relay, dir));

  test('bridge reads HYBRIDGE_CONNECTION_STRING like every other command', async () => {
    const bridge = await startBridge(['-T', 'cc-env:127.0.0.1:9'], { env: { HYBRIDGE_CONNECTION_STRING: relay.connectionString() }, ready: /relay listener online hyco=cc-env/ });
    await bridge.stop();
  });

  test('bridge takes -x, -k and -s from files; a flag and its file together are one line, exit 2', async () => {
    const csFile = write('bridge.cs', `${relay.connectionString()}\n`);
    const fromFile = await startBridge(['--connection-string-file', csFile, '-T', 'cc-file:127.0.0.1:9'], { ready: /relay listener online hyco=cc-file/ });
    await fromFile.stop();

    // -k must be base64 (as azbridge requires), so this relay gets a base64 root key.
    const base64Key = Buffer.from('cli-credentials-root-key-bytes!!').toString('base64');
    const keyedRelay = await startRelay({ rootKey: base64Key, hybridConnections: ['cc-key'] });
    try {
      const keyFile = write('bridge.key', `${base64Key}\n`);
      const keyed = await startBridge(['-e', keyedRelay.wsBase, '-K', ROOT_RULE, '--shared-access-key-file', keyFile, '-T', 'cc-key:127.0.0.1:9'], { ready: /relay listener online hyco=cc-key/ });
      await keyed.stop();
    } finally {
      await keyedRelay.stop();
    }

    const signature = createSasToken(`http://127.0.0.1:${relay.port}/cc-sig`, ROOT_RULE, ROOT_KEY, Math.floor(Date.now() / 1000) + 3600);
    const sigFile = write('bridge.sig', `${signature}\n`);
    const signed = await startBridge(['-e', relay.wsBase, '--signature-file', sigFile, '-T', 'cc-sig:127.0.0.1:9'], { ready: /relay listener online hyco=cc-sig/ });
    await signed.stop();

    const both = await runBridgeToExit(['-x', relay.connectionString(), '--connection-string-file', csFile, '-L', '1:cc-file']);
    assert.equal(both.code, 2);
    assert.equal(oneLine(both.output), 'hybridge: give either -x or --connection-string-file, not both');
    const missing = await runBridgeToExit(['--connection-string-file', join(dir, 'nope.cs'), '-L', '1:cc-file']);
    assert.equal(missing.code, 2);
    assert.equal(oneLine(missing.output), `hybridge: --connection-string-file: cannot read ${join(dir, 'nope.cs')} (no such file)`);
  });

  test('a malformed -s (flag or file) exits 2 at once, naming where it came from and never the value', async () => {
    const junk = 'not-a-signature-secret-text';
    const flag = await runBridgeToExit(['-e', relay.wsBase, '-s', junk, '-L', '1:cc-sig']);
    assert.equal(flag.code, 2, flag.output);
    assert.match(oneLine(flag.output) ?? flag.output, /^hybridge: -s: the shared access signature is malformed: /);
    const file = write('junk.sig', junk);
    const fromFile = await runBridgeToExit(['-e', relay.wsBase, '--signature-file', file, '-L', '1:cc-sig']);
    assert.equal(fromFile.code, 2, fromFile.output);
    assert.match(oneLine(fromFile.output) ?? fromFile.output, new RegExp(`^hybridge: --signature-file ${file}: the shared access signature is malformed: `));
    assert.ok(!flag.output.includes(junk) && !fromFile.output.includes(junk), 'the value is never echoed');
  });

  test('relay-listener and the management commands take --connection-string-file', async () => {
    const csFile = write('tunnel.cs', relay.connectionString());
    const listener = spawnHybridge(['relay-listener', '--hyco', 'cc-tunnel', '--allow', '127.0.0.1:9', '--connection-string-file', csFile], { env: cleanEnv() });
    await listener.waitForOutput(/listener online hyco=cc-tunnel/);
    await listener.stop();
    const listed = await runCli(['hyco', 'list', '--connection-string-file', csFile, '--query', '[].name', '-o', 'tsv']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.ok(listed.stdout.split('\n').includes('cc-tunnel'));
  });

  test('a bad hybrid connection or rule name exits 2 before any call to the relay', async () => {
    // Nothing listens on port 1: a call would fail with exit 1, so exit 2 proves nothing was sent.
    const offline = 'Endpoint=ws://127.0.0.1:1/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=x';
    const cases: [string[], string][] = [
      [['hyco', 'create', '-n', 'a b'], `hybridge: --name "a b" is not a valid hybrid connection name: letters, digits, '.', '_', '-', '/' between segments, at most 260 characters`],
      [['hyco', 'show', '-n', 'team/../x'], `hybridge: --name "team/../x" is not a valid hybrid connection name: letters, digits, '.', '_', '-', '/' between segments, at most 260 characters`],
      [['hyco', 'authorization-rule', 'create', '--hybrid-connection-name', 'web', '-n', 'bad rule', '--rights', 'Send'], `hybridge: --name "bad rule" is not a valid rule name: a letter or digit, then letters, digits, '.', '_' or '-', at most 256 characters`],
    ];
    for (const [args, expected] of cases) {
      const result = await runCli([...args, '-x', offline]);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.equal(oneLine(result.stderr), expected);
    }
  });

  test('-L localhost:relay is refused with a hint instead of creating a socket file ./localhost', async () => {
    const cwd = mkdtempSync(join(dir, 'cwd-'));
    const word = await runBridgeToExit(['-x', relay.connectionString(), '-L', 'localhost:web'], { cwd });
    assert.equal(word.code, 2, word.output);
    assert.equal(
      oneLine(word.output),
      `hybridge: -L "localhost:web": "localhost" is not a port (N for TCP, NU for UDP); an address needs a port after it (localhost:8080:relay), and a Unix socket path must contain '/' (./localhost or /run/localhost.sock)`,
    );
    assert.deepEqual(readdirSync(cwd), [], 'no socket file was created');
    const remote = await runBridgeToExit(['-x', relay.connectionString(), '-T', 'web:backend'], { cwd });
    assert.equal(remote.code, 2, remote.output);
    assert.match(oneLine(remote.output) ?? remote.output, /^hybridge: -T "web:backend": "backend" is not a port .* a Unix socket path must contain '\/' \(\.\/backend or \/run\/backend\.sock\)$/);
  });

  test('a socket in a missing directory says the directory is missing (exit 2)', async () => {
    const socket = join(dir, 'no-such-dir', 'app.sock');
    const result = await runBridgeToExit(['-x', relay.connectionString(), '-L', `${socket}:web`]);
    assert.equal(result.code, 2, result.output);
    assert.equal(oneLine(result.output), `hybridge: -L ${socket}:web: ${socket}: the directory ${join(dir, 'no-such-dir')} does not exist`);
    assert.equal(existsSync(join(dir, 'no-such-dir')), false);
  });

  test('a bind address that does not resolve is a configuration error (exit 2); a resolver that cannot answer is a run-time one (exit 1)', async () => {
    const name = 'no-such-host.invalid';
    const resolution = await lookup(name).then(
      () => 'resolved',
      (err: NodeJS.ErrnoException) => err.code ?? 'unknown',
    );
    // .invalid never resolves (RFC 6761): the resolver says so (ENOTFOUND) or, with no DNS server it
    // can reach, that it could not ask (EAI_AGAIN, which a retry may fix). Each has its own answer.
    assert.ok(resolution === 'ENOTFOUND' || resolution === 'EAI_AGAIN', `the resolver answered ${resolution} for ${name}`);
    const port = await freePort();
    const result = await runBridgeToExit(['-x', relay.connectionString(), '-L', `${name}:${port}:web`]);
    assert.equal(result.code, resolution === 'ENOTFOUND' ? 2 : 1, result.output);
    assert.equal(oneLine(result.output), `hybridge: -L ${name}:${port}:web: bind address "${name}" does not resolve (${resolution}); give an address of this machine`);
  });
});
