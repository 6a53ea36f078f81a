import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { digestOf, endBridgeSuite, exchange, expectUsageErrors, startBridge, startEchoTarget } from '../bridge/bridge-kit.js';
import { freePort } from '../helpers/async.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { patternBytes } from '../helpers/data.js';

/**
 * Every -T/-R/-H example of reference/azbridge.md §1.3-§1.5, §5.1 and the README, plus relay-name
 * characters. azbridge's plain socket names (`relay4:sock`, `baz:abc`) are written as paths: a
 * socket path must contain '/' here.
 */
const REMOTE_EXAMPLES = [
  ['-T', 'relay1:port/1000'],
  ['-T', 'relay2:port/name:1000'],
  ['-T', 'relay3:1000'],
  ['-T', 'relay4:./sock'],
  ['-R', 'foobar:3000U'],
  ['-R', 'relay2:name:port2/1000'],
  ['-R', 'bar3:10.1.1.1:port/123'],
  ['-R', 'foo1:123'],
  ['-R', 'bar1:10.1.1.1:123'],
  ['-R', 'foo3:port/123'],
  ['-R', 'baz:./abc'],
  ['-T', 'foo2:123'],
  ['-T', 'bar2:10.1.1.1:123'],
  ['-T', 'foo4:port/123'],
  ['-T', 'bar4:port/10.1.1.1:123'],
  ['-H', 'foo5:https/service.example.com'],
  ['-H', 'bar5:http/service.example.com:81'],
  ['-H', 'baz5:http/service.example.com'],
  ['-H', 'abc/def:http/service.example.com/foo'],
  ['-H', 'ghi/jkl:http/service1.example.com/foo;http/service2.example.com/foo'],
  ['-T', 'db:sql1/sql1.corp.example.com:16161;sql2/sql2.corp.example.com:16161'],
  ['-H', 'latavola:https/443'],
  ['-T', 'a_b/c.d-e:3000'],
  ['-T', 'v6:[::1]:22'],
  ['-T', 'sockpath:api//run/api.sock'],
] as const;

/**
 * Every -L example (reference §1.2, README), plus hybridge's IPv6 literals and absolute socket paths.
 * The examples' fixed ports (8008, 3000, 16161, 7777) are replaced by free ones, so that test runs in
 * parallel never collide; the grammar is unchanged.
 */
function localExamples(p: Record<'a' | 'b' | 'c' | 'd', number>): string[] {
  return [
    `127.0.100.1:${p.a}:foo`,
    './name:baz',
    `${p.b}U:foobar`,
    `${p.b}:foobar`,
    `127.0.0.8:${p.c}/sql1;127.0.0.9:${p.c}/sql2:db`,
    `${p.c}:db`,
    `${p.d};${p.d}U:relay`,
  ];
}

const BAD: [string, string[], RegExp][] = [
  ['-L port out of range', ['-L', '70000:foo'], /^hybridge: -L "70000:foo": port 70000 is out of range 1\.\.65535$/],
  ['-L invalid relay name', ['-L', '127.0.0.1:8008:f^oo'], /^hybridge: -L "127\.0\.0\.1:8008:f\^oo": relay name "f\^oo" may contain only/],
  ['-L non-local bind address', ['-L', '1.1.1.1:8008:foo'], /^hybridge: -L "1\.1\.1\.1:8008:foo": 1\.1\.1\.1 is not an address of this machine$/],
  ['-L IPv6 without brackets', ['-L', '::1:80:relay'], /^hybridge: -L "::1:80:relay": .*brackets/],
  ['-L UDP with lower-case u', ['-L', '3000u:relay'], /upper-case U/],
  ['-T port out of range', ['-T', 'foo:70000'], /^hybridge: -T "foo:70000": port 70000 is out of range/],
  ['-T invalid relay name', ['-T', 'fo^o:123'], /^hybridge: -T "fo\^o:123": relay name/],
  ['-T invalid host', ['-T', 'foo:foo^^^bar:123'], /^hybridge: -T "foo:foo\^\^\^bar:123": "foo\^\^\^bar" is not a valid host name/],
  ['-R too many colons', ['-R', 'foo:a:b:c'], /^hybridge: -R "foo:a:b:c": too many ':'/],
  ['-H scheme', ['-H', 'foo:ftp/host'], /^hybridge: -H "foo:ftp\/host": .*http\/ or https\//],
  ['-H bad port', ['-H', 'foo:http/host:http'], /is not a TCP port number/],
  ['-x garbage', ['-x', 'garbage', '-L', '1:a'], /^hybridge: -x: invalid connection string/],
  ['-b invalid', ['-b', 'abc^^$foo', '-L', '1:a'], /^hybridge: -b "abc\^\^\$foo": /],
  ['-b not local', ['-b', '1.1.1.1', '-L', '1:a'], /^hybridge: -b "1\.1\.1\.1": 1\.1\.1\.1 is not an address of this machine$/],
  ['-b host name', ['-b', 'bing.com', '-L', '1:a'], /^hybridge: -b "bing\.com": "bing\.com" must be an IP address of this machine or localhost$/],
  ['-e invalid', ['-e', 'not a uri', '-L', '1:a'], /^hybridge: -e "not a uri": invalid relay endpoint/],
  ['-K invalid', ['-e', 'sb://x.servicebus.windows.net', '-K', 'bad key!', '-k', 'YWJj', '-L', '1:a'], /^hybridge: -K: shared access key name "bad key!"/],
  ['-k not base64', ['-e', 'sb://x.servicebus.windows.net', '-K', 'send', '-k', 'not base64!', '-L', '1:a'], /^hybridge: -k: the shared access key is not valid base64$/],
  ['-o unknown key', ['-o', 'Fompa:1', '-L', '1:a'], /^hybridge: -o Fompa: .*Fompa/],
  ['-o ConnectionAttempts 11', ['-o', 'ConnectionAttempts:11', '-L', '1:a'], /ConnectionAttempts 11 is out of range 1\.\.10/],
  ['-o ConnectionAttempts -1', ['-o', 'ConnectionAttempts:-1', '-L', '1:a'], /ConnectionAttempts -1 is out of range 1\.\.10/],
  ['-o ConnectTimeout 121', ['-o', 'ConnectTimeout:121', '-L', '1:a'], /ConnectTimeout 121 is out of range 0\.\.120/],
  ['-o ConnectTimeout garbage', ['-o', 'ConnectTimeout:garbage', '-L', '1:a'], /ConnectTimeout/],
  ['-a not a number', ['-a', 'often', '-L', '1:a'], /^hybridge: -a "often": KeepAliveInterval must be a whole number$/],
  ['--prewarm out of range', ['--prewarm', '5000', '-L', '1:a'], /Prewarm 5000 is out of range 0\.\.1000/],
  ['--preconnect out of range', ['--preconnect', '65', '-L', '1:a'], /^hybridge: --preconnect must be a whole number from 0 to 64, not "65"$/],
  ['-f missing file', ['-f', '/nonexistent/bridge.yml'], /^hybridge: The config file was not found: \/nonexistent\/bridge\.yml$/],
  ['unknown option', ['--bogus'], /^hybridge: unknown option '--bogus'/],
  ['stray argument', ['-L', '1:a', 'extra'], /^hybridge: .*argument/],
  ['no forwarder', ['-x', 'Endpoint=ws://127.0.0.1:1/'], /^hybridge: You must specify at least one -L, -T, -R or -H forwarder\.$/],
  ['no connection string', ['-L', '3000:db'], /^hybridge: Connection string\(s\) undefined for db; set -x/],
  ['--allow invalid', ['-x', 'Endpoint=ws://127.0.0.1:1/', '-T', 'a:1', '--allow', 'not a rule'], /^hybridge: --allow: /],
  ['--drain-timeout invalid', ['--drain-timeout', 'soon', '-L', '1:a'], /^hybridge: --drain-timeout: /],
];

describe('hybridge bridge: command-line grammar (processes)', () => {
  let relay: TestRelay;
  const dir = mkdtempSync(join(tmpdir(), 'hybridge-bridge-grammar-'));

  before(async () => {
    const relays = [...new Set(REMOTE_EXAMPLES.map(([, e]) => e.slice(0, e.search(/:(?![^[]*\])/))))];
    relay = await startRelay({ hybridConnections: relays });
  });

  after(() => endBridgeSuite(relay, dir));

  test('every -T, -R and -H example starts a relay listener', async () => {
    const args = ['-x', relay.connectionString(), '-b', 'localhost', '-a', '60', '-o', 'ConnectTimeout:44', ...REMOTE_EXAMPLES.flat()];
    const bridge = await startBridge(args, { cwd: dir });
    try {
      const relays = new Set(REMOTE_EXAMPLES.map(([, e]) => e.slice(0, e.search(/:(?![^[]*\])/))));
      assert.match(bridge.output(), new RegExp(`bridge ready remote=${relays.size} local=0`));
      for (const name of relays) assert.match(bridge.output(), new RegExp(`relay listener online hyco=${name.replace(/[.]/g, '\\.')} `), `listening on ${name}`);
      // azbridge applies -L, then -R, then -T, then -H.
      assert.match(bridge.output(), /hyco=relay2 forwards="port2 -> tcp:name:1000; port -> tcp:name:1000"/, '-T and -R on one relay share its listener');
      assert.match(bridge.output(), /hyco=latavola forwards=https:\/\/443:443\//, 'azbridge reads -H latavola:https/443 as host "443", port 443');
      assert.match(bridge.output(), /hyco=ghi\/jkl forwards="http:\/\/service1\.example\.com:80\/foo\/; http:\/\/service2\.example\.com:80\/foo\/"/);
    } finally {
      assert.equal(await bridge.stop('SIGINT'), 0, 'SIGINT exits 0');
    }
  });

  test('every -L example listens, and data flows through one of them', async () => {
    const target = await startEchoTarget();
    const remote = await startBridge(['-x', relay.connectionString(), '-T', `db:${target.port}`]);
    const p = { a: await freePort('127.0.100.1'), b: await freePort(), c: await freePort(), d: await freePort() };
    const examples = localExamples(p);
    const args = ['-x', relay.connectionString(), '-L', `${join(dir, 'abs.sock')}:relay`, '-L', `[${join(dir, 'a:b.sock')}]/api:relay`];
    const v6 = await freePort('::1').catch(() => undefined);
    if (v6) args.push('-L', `[::1]:${v6}:relay`);
    for (const example of examples) args.push('-L', example);
    const local = await startBridge(args, { cwd: dir });
    assert.match(local.output(), new RegExp(`bridge ready remote=0 local=${examples.length + (v6 ? 3 : 2)}`));
    assert.match(local.output(), new RegExp(`hyco=foo listen="127\\.0\\.100\\.1:${p.a} as \\\\"${p.a}\\\\""`));
    assert.match(local.output(), /hyco=baz listen="\.\/name as \\"name\\""/);
    assert.match(local.output(), new RegExp(`hyco=foobar listen="udp:127\\.0\\.0\\.1:${p.b}(,udp:\\[::1\\]:${p.b})? as \\\\"${p.b}U\\\\""`));
    assert.match(local.output(), new RegExp(`hyco=db listen="127\\.0\\.0\\.8:${p.c} as \\\\"sql1\\\\"; 127\\.0\\.0\\.9:${p.c} as \\\\"sql2\\\\""`));
    assert.match(local.output(), new RegExp(`hyco=relay listen="127\\.0\\.0\\.1:${p.d}(,\\[::1\\]:${p.d})? as \\\\"${p.d}\\\\"; udp:127\\.0\\.0\\.1:${p.d}(,udp:\\[::1\\]:${p.d})? as \\\\"${p.d}U\\\\""`));
    // -L <port>:db reaches the single -T db forwarder (a numeric port name, reference §1.6).
    const payload = patternBytes(20_000, 81);
    const got = await exchange({ port: p.c }, payload);
    assert.equal(got.sha256, digestOf(payload).sha256);
    await Promise.all([local.stop(), remote.stop()]);
  });

  test('every bad example exits 2 with one line naming the problem', async () => {
    await expectUsageErrors(BAD, { env: { AZURE_BRIDGE_CONNECTIONSTRING: '' } });
  });
});
