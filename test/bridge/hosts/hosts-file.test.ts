/**
 * The hosts file as lines, and the --add-hosts claim on a temporary hosts file: every line
 * hybridge did not write keeps its bytes; hybridge's lines carry their marker; names are matched
 * case-insensitively; addresses are picked free; stale bridge entries are cleaned, live ones kept.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadBridgeConfig, type TcpLocalBinding } from '../../../src/bridge/config/index.js';
import { claimHostNames, parseHostPins } from '../../../src/bridge/hosts/bridge-host-names.js';
import { HostsError } from '../../../src/bridge/hosts/hosts-store.js';
import { HostsDocument } from '../../../src/bridge/hosts/hosts-file.js';

const ORIGINAL = '127.0.0.1\tlocalhost\r\n# a comment,  spaced\r\n\r\n10.0.0.5 db.internal DB-alias   # trailing\r\n::1 ip6-localhost';

describe('HostsDocument', () => {
  it('reads entries, aliases and hybridge markers, and writes back the same bytes', () => {
    const doc = HostsDocument.parse(`${ORIGINAL}\n127.1.0.1\tsql.example.com\t# hybridge\n127.1.0.2 api.example.com # hybridge bridge pid=42\n127.1.0.3 x.example.com # hybridge-ish\n`);
    assert.equal(HostsDocument.parse(ORIGINAL).toString(), ORIGINAL);
    assert.deepEqual(
      doc.entries().map((e) => [e.line, e.address, e.names, e.owner]),
      [
        [0, '127.0.0.1', ['localhost'], undefined],
        [3, '10.0.0.5', ['db.internal', 'DB-alias'], undefined],
        [4, '::1', ['ip6-localhost'], undefined],
        [5, '127.1.0.1', ['sql.example.com'], { kind: 'hosts' }],
        [6, '127.1.0.2', ['api.example.com'], { kind: 'bridge', pid: 42 }],
        [7, '127.1.0.3', ['x.example.com'], undefined],
      ],
    );
    assert.deepEqual(doc.entriesFor('db-ALIAS').map((e) => e.line), [3]);
  });

  it('appends in the file\'s line-ending style, ending an unterminated last line first, and removes only whole lines', () => {
    const doc = HostsDocument.parse(ORIGINAL);
    doc.append('127.1.2.3', 'sql.corp.example.com', { kind: 'bridge', pid: 7 });
    assert.equal(doc.toString(), `${ORIGINAL}\r\n127.1.2.3\tsql.corp.example.com\t# hybridge bridge pid=7\r\n`);
    doc.removeLines(doc.entriesFor('sql.corp.example.com').map((e) => e.line));
    assert.equal(doc.toString(), `${ORIGINAL}\r\n`, 'only the newline the last line needed stays');
    const unix = HostsDocument.parse('127.0.0.1 localhost\n');
    unix.append('127.1.0.9', 'a.example.com', { kind: 'hosts' });
    assert.equal(unix.toString(), '127.0.0.1 localhost\n127.1.0.9\ta.example.com\t# hybridge\n');
  });
});

describe('bridge --add-hosts claims', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hybridge-hosts-claim-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  const hostsFile = (text: string) => {
    const file = join(dir, `hosts-${n++}`);
    writeFileSync(file, text);
    return file;
  };
  const config = (...localForward: string[]) =>
    loadBridgeConfig({ endpoint: 'ws://127.0.0.1:9', localForward, machineConfigPath: null, userConfigPath: null, env: {}, isLocalAddress: () => true });
  const tcp = (c: ReturnType<typeof config>, i: number, j = 0) => c.localForward[i]!.bindings[j] as TcpLocalBinding;
  const deadPid = () => spawnSync(process.execPath, ['-e', '0']).pid!;

  it('gives each named binding a free 127.1.x.y, once per name, and binds it there; release() restores the file', () => {
    const file = hostsFile('127.0.0.1 localhost\n127.1.0.1 taken.example.com\n');
    const c = config('sql.corp.example.com:1433:db', 'SQL.corp.example.com:1434;api.corp.example.com:80:other', '127.0.0.1:99:plain');
    const claimed = claimHostNames(c, file, new Map(), 1234);
    assert.deepEqual(claimed.names.map((x) => [x.name, x.address, x.added]), [
      ['sql.corp.example.com', '127.1.0.2', true],
      ['api.corp.example.com', '127.1.0.3', true],
    ]);
    assert.deepEqual([tcp(c, 0).bindAddress, tcp(c, 1, 0).bindAddress, tcp(c, 1, 1).bindAddress, tcp(c, 2).bindAddress], ['127.1.0.2', '127.1.0.2', '127.1.0.3', '127.0.0.1']);
    assert.equal(
      readFileSync(file, 'utf8'),
      '127.0.0.1 localhost\n127.1.0.1 taken.example.com\n127.1.0.2\tsql.corp.example.com\t# hybridge bridge pid=1234\n127.1.0.3\tapi.corp.example.com\t# hybridge bridge pid=1234\n',
    );
    claimed.release();
    claimed.release();
    assert.equal(readFileSync(file, 'utf8'), '127.0.0.1 localhost\n127.1.0.1 taken.example.com\n');
  });

  it('uses a pinned address, or the one an existing entry gives (and leaves that entry on release)', () => {
    const file = hostsFile('127.1.5.5 api.corp.example.com # hybridge\n');
    const c = config('sql.corp.example.com:1433;api.corp.example.com:80:db');
    const claimed = claimHostNames(c, file, parseHostPins('sql.corp.example.com=127.9.9.9'), 99);
    assert.deepEqual(claimed.names.map((x) => [x.address, x.added]), [['127.9.9.9', true], ['127.1.5.5', false]]);
    claimed.release();
    assert.equal(readFileSync(file, 'utf8'), '127.1.5.5 api.corp.example.com # hybridge\n');
  });

  it('cleans entries of bridges that are gone, and refuses a name a running bridge holds', () => {
    const gone = deadPid();
    const file = hostsFile(`127.1.0.1\tsql.corp.example.com\t# hybridge bridge pid=${gone}\n127.1.0.2\told.example.com\t# hybridge bridge pid=${gone}\n`);
    const claimed = claimHostNames(config('sql.corp.example.com:1433:db'), file, new Map(), 555);
    assert.equal(claimed.cleaned, 2);
    assert.equal(readFileSync(file, 'utf8'), '127.1.0.1\tsql.corp.example.com\t# hybridge bridge pid=555\n');
    // The test runner itself stands for another running bridge.
    assert.throws(
      () => claimHostNames(config('sql.corp.example.com:1433:db'), hostsFile(`127.1.0.1 sql.corp.example.com # hybridge bridge pid=${process.pid}\n`), new Map(), 556),
      (err: Error) => err instanceof HostsError && err.kind === 'failure' && /already mapped in .* by another running bridge \(pid \d+\)/.test(err.message),
    );
  });

  it('refuses what cannot work, with the reason', () => {
    const cases: [() => unknown, RegExp][] = [
      [() => claimHostNames(config('127.0.0.1:1433:db', 'localhost:1:db'), hostsFile(''), new Map()), /no -L binding listens on a host name/],
      [() => claimHostNames(config('a.example.com:1:db'), hostsFile(''), parseHostPins('b.example.com=127.1.1.1')), /no -L binding listens on b\.example\.com/],
      [() => claimHostNames(config('a.example.com:1:db'), hostsFile('127.1.1.1 a.example.com\n'), parseHostPins('a.example.com=127.1.1.2')), /already maps a\.example\.com to 127\.1\.1\.1 \(line 1\)/],
      [() => claimHostNames(config('a.example.com:1:db'), hostsFile('10.9.9.9 a.example.com\n'), new Map()), /maps a\.example\.com to 10\.9\.9\.9, which is not an address of this machine/],
      [() => parseHostPins('a.example.com'), /write name=address/],
      [() => parseHostPins('a.example.com=10.0.0.1'), /^--add-hosts a\.example\.com=10\.0\.0\.1: 10\.0\.0\.1 is not a loopback address \(127\.x\.y\.z or ::1\)$/],
      [() => parseHostPins('a.example.com=127.1.1.1,A.example.com=127.1.1.2'), /names A\.example\.com twice/],
    ];
    for (const [run, message] of cases) assert.throws(run, (err: Error) => err instanceof HostsError && message.test(err.message), String(message));
  });
});
