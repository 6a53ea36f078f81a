/**
 * `hybridge hosts add|remove|list` and `bridge -L name:port:relay --add-hosts` on hosts files the
 * test makes (never /etc/hosts): an atomic rewrite (a new inode, same mode and owner) that keeps
 * every other byte, marked entries, duplicates and non-loopback addresses refused, one line for
 * bad input (exit 2) and without privileges (exit 1); and a bridge whose entry lives exactly as
 * long as it does: removed after SIGTERM, SIGINT and a failed start, left by SIGKILL and then
 * cleaned by the next start or by `hosts remove`.
 */
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { digestOf, endBridgeSuite, exchange, startBridge, startEchoTarget, type TcpTarget } from '../bridge/bridge-kit.js';
import { freePort } from '../helpers/async.js';
import { patternBytes } from '../helpers/data.js';
import { spawnHybridge, waitExit, type RunningProcess } from '../helpers/processes.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';

const ORIGINAL = '# hosts file of the test\n127.0.0.1\tlocalhost   # loopback\n\n10.0.0.5 db.internal\n::1 ip6-localhost ip6-loopback\n';
const NOBODY = 65534;

let dir: string;
let files = 0;
function hostsFile(text = ORIGINAL): string {
  const file = join(dir, `hosts-${files++}`);
  writeFileSync(file, text);
  return file;
}

async function hybridge(args: string[], options: { uid?: number; gid?: number } = {}): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const proc = spawnHybridge(args, { env: { PATH: process.env.PATH }, ...options });
  let stdout = '';
  let stderr = '';
  proc.child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  proc.child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await waitExit(proc, 15_000);
  return { code, stdout, stderr };
}

function oneLine(result: { stderr: string }, pattern: RegExp): void {
  assert.match(result.stderr, pattern);
  assert.equal(result.stderr.split('\n').length, 2, `one line: ${result.stderr}`);
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'hybridge-hosts-'));
  chmodSync(dir, 0o755);
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('hybridge hosts (processes)', { concurrency: true }, () => {
  it('add, list and remove: an atomic rewrite that keeps the mode, the owner and every other byte', async () => {
    const file = hostsFile();
    chmodSync(file, 0o640);
    if (process.getuid?.() === 0) chownSync(file, NOBODY, NOBODY);
    const before = statSync(file);
    const added = await hybridge(['hosts', 'add', '127.1.2.3', 'sql.corp.example.com', '--hosts-file', file]);
    assert.equal(added.code, 0, added.stderr);
    assert.equal(added.stdout, `hybridge hosts: added 127.1.2.3 sql.corp.example.com to ${file}\n`);
    assert.equal(readFileSync(file, 'utf8'), `${ORIGINAL}127.1.2.3\tsql.corp.example.com\t# hybridge\n`);
    const after = statSync(file);
    assert.notEqual(after.ino, before.ino, 'replaced by rename, not written in place');
    assert.deepEqual([after.mode, after.uid, after.gid], [before.mode, before.uid, before.gid]);

    const listed = await hybridge(['hosts', 'list', '--hosts-file', file]);
    assert.equal(listed.stdout, '127.1.2.3\tsql.corp.example.com\tadded by hybridge hosts add\n');
    const again = await hybridge(['hosts', 'add', '127.1.2.3', 'sql.corp.example.com', '--hosts-file', file]);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /already maps sql\.corp\.example\.com to 127\.1\.2\.3/);

    const removed = await hybridge(['hosts', 'remove', 'SQL.corp.example.com', '--hosts-file', file]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(readFileSync(file, 'utf8'), ORIGINAL, 'back to the original, byte for byte');
    assert.equal(statSync(file).mode, before.mode);
  });

  it('refuses duplicates (unless --replace on its own entry) and non-loopback addresses (unless --allow-non-loopback)', async () => {
    const file = hostsFile();
    assert.equal((await hybridge(['hosts', 'add', '127.1.2.3', 'app.example.com', '--hosts-file', file])).code, 0);
    const duplicate = await hybridge(['hosts', 'add', '127.1.2.4', 'app.example.com', '--hosts-file', file]);
    assert.equal(duplicate.code, 1);
    oneLine(duplicate, /^hybridge: app\.example\.com is already in .* as 127\.1\.2\.3 \(added by hybridge hosts add\); pass --replace to change it\n$/);
    const replaced = await hybridge(['hosts', 'add', '127.1.2.4', 'app.example.com', '--replace', '--hosts-file', file]);
    assert.equal(replaced.code, 0, replaced.stderr);
    const foreign = await hybridge(['hosts', 'add', '127.1.2.5', 'db.internal', '--replace', '--hosts-file', file]);
    assert.equal(foreign.code, 1);
    oneLine(foreign, /^hybridge: db\.internal is already in .* \(line 4: 10\.0\.0\.5\), not added by hybridge; edit that line by hand\n$/);
    const removeForeign = await hybridge(['hosts', 'remove', 'db.internal', '--hosts-file', file]);
    assert.equal(removeForeign.code, 1);
    oneLine(removeForeign, /^hybridge: db\.internal in .* \(line 4\) was not added by hybridge; edit that line by hand\n$/);
    const lan = await hybridge(['hosts', 'add', '192.168.1.20', 'nas.example.com', '--hosts-file', file]);
    assert.equal(lan.code, 2);
    oneLine(lan, /^hybridge: 192\.168\.1\.20 is not a loopback address \(127\.x\.y\.z or ::1\); pass --allow-non-loopback to map a name to it\n$/);
    assert.equal((await hybridge(['hosts', 'add', '192.168.1.20', 'nas.example.com', '--allow-non-loopback', '--hosts-file', file])).code, 0);
    assert.equal(readFileSync(file, 'utf8'), `${ORIGINAL}127.1.2.4\tapp.example.com\t# hybridge\n192.168.1.20\tnas.example.com\t# hybridge\n`);
  });

  it('bad input: one line and exit code 2, the file untouched', async () => {
    const file = hostsFile();
    const cases: [string[], RegExp][] = [
      [['hosts', 'add', 'not-an-ip', 'a.example.com'], /^hybridge: "not-an-ip" is not an IP address\n$/],
      [['hosts', 'add', '127.1.1.1', 'bad_name!'], /^hybridge: "bad_name!" is not a valid host name/],
      [['hosts', 'add', '127.1.1.1', 'localhost'], /^hybridge: "localhost" is the system's own name; map another name\n$/],
      [['hosts', 'add', '0.0.0.0', 'a.example.com'], /^hybridge: 0\.0\.0\.0 is the unspecified address/],
      [['hosts', 'add', '127.1.1.1'], /^hybridge: missing required argument 'name'; see `hybridge hosts add --help`\n$/],
      [['hosts', 'remove', '10.0.0.5'], /^hybridge: "10\.0\.0\.5" is not a valid host name/],
    ];
    const results = await Promise.all(cases.map(([args]) => hybridge([...args, '--hosts-file', file])));
    results.forEach((result, i) => {
      assert.equal(result.code, 2, `${cases[i]![0].join(' ')}: ${result.stderr}`);
      oneLine(result, cases[i]![1]);
    });
    const missing = await hybridge(['hosts', 'list', '--hosts-file', join(dir, 'no-such-hosts')]);
    assert.equal(missing.code, 2);
    oneLine(missing, /^hybridge: .*no-such-hosts does not exist; give the hosts file with --hosts-file\n$/);
    assert.equal(readFileSync(file, 'utf8'), ORIGINAL);
  });

  it('without the right to write the file: one line saying what to do, exit code 1', async () => {
    const file = hostsFile();
    chmodSync(file, 0o644);
    // As root the test drops to nobody; as another user, the directory is made read-only.
    const asRoot = process.getuid?.() === 0;
    if (!asRoot) chmodSync(dir, 0o555);
    try {
      const denied = await hybridge(['hosts', 'add', '127.1.2.3', 'sql.corp.example.com', '--hosts-file', file], asRoot ? { uid: NOBODY, gid: NOBODY } : {});
      assert.equal(denied.code, 1, denied.stderr);
      oneLine(denied, /^hybridge: cannot change .*: permission denied; run as root \(sudo\) or give a file you may write with --hosts-file\n$/);
    } finally {
      if (!asRoot) chmodSync(dir, 0o755);
    }
    assert.equal(readFileSync(file, 'utf8'), ORIGINAL);
  });
});

describe('bridge -L name:port:relay --add-hosts (processes)', () => {
  let relay: TestRelay;
  let echo: TcpTarget;
  let cs: string;

  before(async () => {
    relay = await startRelay({ hybridConnections: ['hn-db'] });
    echo = await startEchoTarget();
    cs = relay.connectionString();
    await startBridge(['-x', cs, '-T', `hn-db:${echo.port}`]);
  });
  after(() => endBridgeSuite(relay));

  async function startNamedBridge(file: string, port: number, extra: string[] = []): Promise<RunningProcess> {
    return startBridge(['-x', cs, '-L', `sql.corp.example.com:${port}:hn-db`, '--add-hosts', ...extra, '--hosts-file', file]);
  }

  async function roundTrip(host: string, port: number): Promise<void> {
    const payload = patternBytes(256 * 1024 + 3, 77);
    assert.deepEqual(await exchange({ host, port }, payload).then((r) => ({ length: r.length, sha256: r.sha256 })), digestOf(payload));
  }

  it('maps the name to a free 127.1.x.y while it runs, serves it, and removes the entry after SIGTERM', async () => {
    const file = hostsFile();
    const port = await freePort();
    const bridge = await startNamedBridge(file, port);
    assert.equal(readFileSync(file, 'utf8'), `${ORIGINAL}127.1.0.1\tsql.corp.example.com\t# hybridge bridge pid=${bridge.child.pid}\n`);
    assert.match(bridge.output(), /hosts entry added for the bridge's lifetime .*host=sql\.corp\.example\.com address=127\.1\.0\.1/);
    await roundTrip('127.1.0.1', port);
    assert.equal(await bridge.stop('SIGTERM'), 0);
    assert.equal(readFileSync(file, 'utf8'), ORIGINAL);
  });

  it('uses the address given, and removes the entry after SIGINT', async () => {
    const file = hostsFile();
    const port = await freePort();
    const bridge = await startNamedBridge(file, port, ['sql.corp.example.com=127.1.9.9']);
    assert.match(readFileSync(file, 'utf8'), /\n127\.1\.9\.9\tsql\.corp\.example\.com\t# hybridge bridge pid=\d+\n$/);
    await roundTrip('127.1.9.9', port);
    assert.equal(await bridge.stop('SIGINT'), 0);
    assert.equal(readFileSync(file, 'utf8'), ORIGINAL);
  });

  it('removes the entry when the bridge cannot start (exit code 1)', async () => {
    const file = hostsFile();
    const port = await freePort();
    const squatter: Server = createServer();
    await new Promise<void>((resolve) => squatter.listen(port, '127.1.9.10', resolve));
    try {
      const proc = spawnHybridge(['bridge', '-x', cs, '-L', `sql.corp.example.com:${port}:hn-db`, '--add-hosts', 'sql.corp.example.com=127.1.9.10', '--hosts-file', file], { env: { PATH: process.env.PATH, HOME: dir } });
      assert.equal(await waitExit(proc, 15_000), 1, proc.output());
      assert.match(proc.output(), /127\.1\.9\.10/);
    } finally {
      squatter.close();
    }
    assert.equal(readFileSync(file, 'utf8'), ORIGINAL);
  });

  it('a SIGKILL leaves a marked entry; hosts list shows it gone, the next start and hosts remove clean it', async () => {
    const file = hostsFile();
    const port = await freePort();
    const first = await startNamedBridge(file, port);
    await first.stop('SIGKILL');
    const leftover = `${ORIGINAL}127.1.0.1\tsql.corp.example.com\t# hybridge bridge pid=${first.child.pid}\n`;
    assert.equal(readFileSync(file, 'utf8'), leftover);
    const listed = await hybridge(['hosts', 'list', '--hosts-file', file]);
    assert.equal(listed.stdout, `127.1.0.1\tsql.corp.example.com\tadded by hybridge bridge pid ${first.child.pid}, no longer running\n`);

    const second = await startNamedBridge(file, port);
    assert.match(second.output(), /removed hosts entries left by bridges that are gone .*entries=1/);
    assert.equal(readFileSync(file, 'utf8'), `${ORIGINAL}127.1.0.1\tsql.corp.example.com\t# hybridge bridge pid=${second.child.pid}\n`);
    await roundTrip('127.1.0.1', port);
    await second.stop('SIGKILL');

    const removed = await hybridge(['hosts', 'remove', 'sql.corp.example.com', '--hosts-file', file]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(readFileSync(file, 'utf8'), ORIGINAL);
  });

  it('listens on the address of an entry that is already there, and leaves that entry alone', async () => {
    const file = hostsFile(`${ORIGINAL}127.1.5.5 sql.corp.example.com\n`);
    const port = await freePort();
    const bridge = await startNamedBridge(file, port);
    assert.match(bridge.output(), /hosts entry already there; listening on its address .*address=127\.1\.5\.5/);
    await roundTrip('127.1.5.5', port);
    assert.equal(await bridge.stop('SIGTERM'), 0);
    assert.equal(readFileSync(file, 'utf8'), `${ORIGINAL}127.1.5.5 sql.corp.example.com\n`);
  });

  it('bad --add-hosts input: one line and exit code 2, the file untouched', async () => {
    const file = hostsFile();
    const cases: [string[], RegExp][] = [
      [['-L', '16161:hn-db', '--add-hosts'], /^hybridge: --add-hosts: no -L binding listens on a host name; write e\.g\. -L sql\.corp\.example\.com:1433:relay\n$/],
      [['-L', 'sql.corp.example.com:16161:hn-db', '--add-hosts', 'sql.corp.example.com=10.1.1.1'], /^hybridge: --add-hosts sql\.corp\.example\.com=10\.1\.1\.1: 10\.1\.1\.1 is not a loopback address \(127\.x\.y\.z or ::1\)\n$/],
      [['-L', 'sql.corp.example.com:16161:hn-db', '--add-hosts', 'other.example.com=127.1.1.1'], /^hybridge: --add-hosts other\.example\.com=127\.1\.1\.1: no -L binding listens on other\.example\.com\n$/],
    ];
    const results = await Promise.all(cases.map(([args]) => hybridge(['bridge', '-x', cs, ...args, '--hosts-file', file])));
    results.forEach((result, i) => {
      assert.equal(result.code, 2, result.stderr);
      oneLine(result, cases[i]![1]);
    });
    const noAddHosts = await hybridge(['bridge', '-x', cs, '-L', '16161:hn-db', '--hosts-file', file]);
    assert.equal(noAddHosts.code, 2);
    oneLine(noAddHosts, /^hybridge: --hosts-file needs --add-hosts\n$/);
    assert.equal(readFileSync(file, 'utf8'), ORIGINAL);
  });
});
