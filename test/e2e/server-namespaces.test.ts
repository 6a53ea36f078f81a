/**
 * `hybridge server --admin-key-file` and `hybridge namespace create|list|show|delete` as real
 * processes; the created namespace is used with the library's listener and client through its
 * connection string (the /$ns/{name} path form), and survives a restart of the server.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HybridConnectionClient, HybridConnectionListener } from '../../src/client/index.js';
import { readAll } from '../helpers/async.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { stopAll } from '../helpers/processes.js';
import { cleanEnv, cliJson, oneLine, runCli, startServer, type ServerProcess } from '../relay/management-cli-kit.js';

interface Namespace {
  name: string;
  serviceBusEndpoint: string;
  rootConnectionString?: string;
}

describe('hybridge namespace (server-level admin)', () => {
  let dir: string;
  let keyFile: string;
  let server: ServerProcess;
  const admin = () => ['--server', `ws://127.0.0.1:${server.port}`, '--admin-key-file', keyFile];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hybridge-ns-cli-'));
    keyFile = join(dir, 'admin.key');
    server = await startServer(['--data', join(dir, 'relay'), '--admin-key-file', keyFile], { firstStart: true });
  });

  after(async () => {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it('generates the admin key into --admin-key-file (0600) and never prints it', () => {
    const key = readFileSync(keyFile, 'utf8').trim();
    assert.equal(Buffer.from(key, 'base64').length, 32);
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    assert.equal(server.proc.output().includes(key), false);
  });

  it('creates a namespace whose root connection string works with hyco create, a listener and a sender', async () => {
    const created = await cliJson<Namespace>(['namespace', 'create', '-n', 'Session-0001', ...admin()]);
    assert.equal(created.name, 'session-0001');
    assert.equal(created.serviceBusEndpoint, `ws://127.0.0.1:${server.port}/$ns/session-0001/`);
    const cs = created.rootConnectionString!;
    await cliJson(['hyco', 'create', '-n', 'desktop', '-x', cs]);
    const listener = new HybridConnectionListener(`${cs};EntityPath=desktop`);
    listener.on('connection', (stream) => stream.pipe(stream));
    await listener.open();
    try {
      const payload = patternBytes(256 * 1024, 21);
      const stream = await new HybridConnectionClient(cs, 'desktop').createConnection();
      stream.end(payload);
      const echoed = await readAll(stream);
      assert.deepEqual([echoed.length, sha256(echoed)], [payload.length, sha256(payload)]);
    } finally {
      await listener.close();
    }
    const shown = await cliJson<{ hybridConnections: number }>(['namespace', 'show', '-n', 'session-0001', ...admin()]);
    assert.equal(shown.hybridConnections, 1);
    const names = await runCli(['namespace', 'list', ...admin(), '--query', '[].name', '-o', 'tsv']);
    assert.equal(names.stdout.trim(), 'session-0001');
  });

  it('keeps namespaces across a restart of the server', async () => {
    await stopAll();
    server = await startServer(['--data', join(dir, 'relay'), '--admin-key-file', keyFile]);
    const shown = await cliJson<{ name: string; hybridConnections: number }>(['namespace', 'show', '-n', 'session-0001', ...admin()]);
    assert.deepEqual([shown.name, shown.hybridConnections], ['session-0001', 1]);
  });

  it('answers bad input with one line and exit code 2, a refused call with exit code 1', async () => {
    for (const args of [
      ['namespace', 'create', '-n', 'bad_name', ...admin()],
      ['namespace', 'create', '-n', 'short', ...admin()],
      ['namespace', 'create', '-n', 'good-name', '--max-rules', '13', ...admin()],
      ['namespace', 'list', '--admin-key-file', keyFile],
      ['namespace', 'list', '--server', `ws://127.0.0.1:${server.port}`],
    ]) {
      const result = await runCli(args, cleanEnv());
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(oneLine(result.stderr) ?? '', /^hybridge: /, args.join(' '));
    }
    const taken = await runCli(['namespace', 'create', '-n', 'session-0001', ...admin()]);
    assert.equal(taken.code, 1);
    assert.match(oneLine(taken.stderr) ?? '', /already exists \(HTTP 409\)/);
    const badKey = join(dir, 'wrong.key');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(badKey, 'not-the-admin-key-0123456789\n');
    const refused = await runCli(['namespace', 'list', '--server', `ws://127.0.0.1:${server.port}`, '--admin-key-file', badKey]);
    assert.equal(refused.code, 1);
    assert.match(oneLine(refused.stderr) ?? '', /admin key.*\(HTTP 401\)/);
  });

  it('deletes a namespace and its data', async () => {
    const deleted = await cliJson<{ deleted: boolean }>(['namespace', 'delete', '-n', 'session-0001', ...admin()]);
    assert.equal(deleted.deleted, true);
    const list = await cliJson<unknown[]>(['namespace', 'list', ...admin()]);
    assert.deepEqual(list, []);
    const again = await runCli(['namespace', 'delete', '-n', 'session-0001', ...admin()]);
    assert.equal(again.code, 1);
    assert.match(oneLine(again.stderr) ?? '', /does not exist \(HTTP 404\)/);
  });
});
