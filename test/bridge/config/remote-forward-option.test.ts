import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BridgeConfigError } from '../../../src/bridge/config/config-error.js';
import type { RemoteBinding } from '../../../src/bridge/config/model.js';
import { parseLegacyRemoteForwardOption, parseRemoteForwardOption } from '../../../src/bridge/config/remote-forward-option.js';

const tcp = (portName: string, host: string, port: number): RemoteBinding => ({ kind: 'tcp', portName, host, port });
const udp = (portName: string, host: string, port: number): RemoteBinding => ({ kind: 'udp', portName, host, port });
const unix = (portName: string, path: string): RemoteBinding => ({ kind: 'unix', portName, path });

const PUNCTUATED_RELAY_NAMES = ['foobar_foobar', 'foobar/foobar', 'foobar.foobar', 'foobar-foobar'];

const PARSE = { '-T': parseRemoteForwardOption, '-R': parseLegacyRemoteForwardOption };

/** One test per example `[text, relayName, bindings]`: `flag text` parses to that relay and those bindings, with its source. */
function parsesExamples(flag: '-T' | '-R', cases: [string, string, RemoteBinding[]][]): void {
  for (const [text, relayName, bindings] of cases) {
    it(`${flag} ${text}`, () => {
      assert.deepEqual(PARSE[flag](text), { relayName, bindings, source: `${flag} ${text}` });
    });
  }
}

function rejects(flag: '-T' | '-R', text: string, pattern: RegExp): void {
  assert.throws(
    () => PARSE[flag](text),
    (err: Error) => {
      assert.ok(err instanceof BridgeConfigError, err.name);
      assert.ok(err.message.startsWith(`${flag} "`), err.message);
      assert.doesNotMatch(err.message, /\n/);
      assert.match(err.message, pattern);
      return true;
    },
  );
}

describe('-T grammar: reference §1.3 examples', () => {
  const cases: [string, string, RemoteBinding[]][] = [
    ['relay1:port/1000', 'relay1', [tcp('port', 'localhost', 1000)]],
    ['relay2:port/name:1000', 'relay2', [tcp('port', 'name', 1000)]],
    ['relay3:1000', 'relay3', [tcp('1000', 'localhost', 1000)]],
    // azbridge's `relay4:sock` (a socket ./sock) must be written as a path here; see the refusals.
    ['relay4:./sock', 'relay4', [unix('sock', './sock')]],
    ['foo2:123', 'foo2', [tcp('123', 'localhost', 123)]],
    ['bar2:10.1.1.1:123', 'bar2', [tcp('123', '10.1.1.1', 123)]],
    ['foo4:port/123', 'foo4', [tcp('port', 'localhost', 123)]],
    ['bar4:port/10.1.1.1:123', 'bar4', [tcp('port', '10.1.1.1', 123)]],
    ['db:sql1/sql1.corp.example.com:16161;sql2/sql2.corp.example.com:16161', 'db', [tcp('sql1', 'sql1.corp.example.com', 16161), tcp('sql2', 'sql2.corp.example.com', 16161)]],
    ['db:16161', 'db', [tcp('16161', 'localhost', 16161)]],
    ['db:sql.corp.example.com:16161', 'db', [tcp('16161', 'sql.corp.example.com', 16161)]],
    ['relay:7777;7777U', 'relay', [tcp('7777', 'localhost', 7777), udp('7777U', 'localhost', 7777)]],
    ['relay:3434U', 'relay', [udp('3434U', 'localhost', 3434)]],
    ['relay:dns.corp:53U', 'relay', [udp('53U', 'dns.corp', 53)]],
    ['relay:rdp/3389', 'relay', [tcp('rdp', 'localhost', 3389)]],
    ['a1:3000', 'a1', [tcp('3000', 'localhost', 3000)]],
  ];
  parsesExamples('-T', cases);

  it('accepts relay names with _, /, . and -', () => {
    for (const name of PUNCTUATED_RELAY_NAMES) assert.equal(parseRemoteForwardOption(`${name}:3000`).relayName, name);
  });

  it('keeps bindings that share a port name: the runtime pools them', () => {
    assert.deepEqual(parseRemoteForwardOption('web:app/10.0.0.1:80;app/10.0.0.2:80').bindings, [tcp('app', '10.0.0.1', 80), tcp('app', '10.0.0.2', 80)]);
  });
});

describe('-T grammar: hybridge additions', () => {
  const cases: [string, RemoteBinding[]][] = [
    ['relay:[fd00::5]:22', [tcp('22', 'fd00::5', 22)]],
    ['relay:name/[::1]:22', [tcp('name', '::1', 22)]],
    ['relay:[::1]:53U', [udp('53U', '::1', 53)]],
    ['relay:/var/run/app.sock', [unix('app.sock', '/var/run/app.sock')]],
    ['relay:./app.sock', [unix('app.sock', './app.sock')]],
    ['relay:api//run/api.sock', [unix('api', '/run/api.sock')]],
    ['relay:api/[/run/a:b.sock]', [unix('api', '/run/a:b.sock')]],
    ['relay:[/run/x.sock]', [unix('x.sock', '/run/x.sock')]],
    ['relay:api/./api.sock;web/8080', [unix('api', './api.sock'), tcp('web', 'localhost', 8080)]],
  ];
  for (const [text, bindings] of cases) {
    it(`-T ${text}`, () => {
      assert.deepEqual(parseRemoteForwardOption(text).bindings, bindings);
    });
  }
});

describe('-R grammar (legacy): reference §1.4 examples', () => {
  const cases: [string, string, RemoteBinding[]][] = [
    ['foo1:123', 'foo1', [tcp('123', 'localhost', 123)]],
    ['bar1:10.1.1.1:123', 'bar1', [tcp('123', '10.1.1.1', 123)]],
    ['foo3:port/123', 'foo3', [tcp('port', 'localhost', 123)]],
    ['bar3:10.1.1.1:port/123', 'bar3', [tcp('port', '10.1.1.1', 123)]],
    ['baz:./abc', 'baz', [unix('abc', './abc')]],
    ['relay1:port/1000', 'relay1', [tcp('port', 'localhost', 1000)]],
    ['relay2:name:port/1000', 'relay2', [tcp('port', 'name', 1000)]],
    ['relay3:1000', 'relay3', [tcp('1000', 'localhost', 1000)]],
    ['relay4:./sock', 'relay4', [unix('sock', './sock')]],
    ['foobar:3000', 'foobar', [tcp('3000', 'localhost', 3000)]],
    ['foobar:3000U', 'foobar', [udp('3000U', 'localhost', 3000)]],
    ['myname:10.1.2.3:5000', 'myname', [tcp('5000', '10.1.2.3', 5000)]],
    ['a1:test/80', 'a1', [tcp('test', 'localhost', 80)]],
    ['relay:[::1]:name/22', 'relay', [tcp('name', '::1', 22)]],
  ];
  parsesExamples('-R', cases);

  it('accepts relay names with _, /, . and -', () => {
    for (const name of PUNCTUATED_RELAY_NAMES) assert.deepEqual(parseLegacyRemoteForwardOption(`${name}:3000`).bindings, [tcp('3000', 'localhost', 3000)]);
  });
});

describe('-T / -R grammar: rejected expressions', () => {
  const cases: ['-T' | '-R', string, RegExp][] = [
    ['-R', 'foobar:70000', /port 70000 is out of range 1\.\.65535/],
    ['-R', 'foo^^^bar:80', /relay name "foo\^\^\^bar"/],
    ['-R', 'foobar:foo^^^bar:80', /"foo\^\^\^bar" is not a valid host name/],
    ['-T', 'foobar:70000', /port 70000 is out of range/],
    ['-T', 'foo^^^bar:80', /relay name/],
    ['-T', 'foobar:foo^^^bar:80', /not a valid host name/],
    ['-T', 'relay', /missing ':' after the relay name/],
    ['-T', '', /empty/],
    ['-T', ':80', /relay name is empty/],
    ['-T', 'relay:', /binding is empty/],
    ['-T', 'relay:80;', /binding is empty/],
    ['-T', 'relay:a/b/c', /more than one '\/'/],
    ['-T', 'relay:a/b/c:80', /more than one '\/'/],
    ['-T', 'relay:a:b:c', /too many ':'/],
    ['-T', 'relay:fd00::5:22', /too many ':'.*brackets/],
    ['-T', 'relay:host:notaport', /"notaport" is not a port/],
    ['-T', 'relay:host:0', /port 0 is out of range/],
    ['-T', 'relay:name/', /is not a port .* a Unix socket path must contain '\/'/],
    ['-T', 'relay4:sock', /"sock" is not a port \(N for TCP, NU for UDP\); an address needs a port after it \(relay:sock:8080\), and a Unix socket path must contain '\/' \(\.\/sock or \/run\/sock\.sock\)$/],
    ['-R', 'baz:abc', /"abc" is not a port .* \(\.\/abc or \/run\/abc\.sock\)$/],
    ['-T', 'relay:name/sock', /"sock" is not a port .* must contain '\/'/],
    ['-T', 'relay:bad^name/80', /port name "bad\^name"/],
    ['-T', 'relay:80u', /upper-case U/],
    ['-T', 'relay:[/run/a:b.sock]', /no usable default port name/],
    ['-T', 'relay:[/run/x.sock]junk', /unexpected "junk"/],
    ['-R', 'relay:host:a/b/80', /more than one '\/'/],
    ['-R', 'relay:host:name/http', /"http" is not a port/],
  ];
  for (const [flag, text, pattern] of cases) {
    it(`rejects ${flag} ${text || '(empty)'}`, () => rejects(flag, text, pattern));
  }
});
