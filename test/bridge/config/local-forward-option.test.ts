import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BridgeConfigError } from '../../../src/bridge/config/config-error.js';
import type { LocalForwardEntry } from '../../../src/bridge/config/layer.js';
import { parseLocalForwardOption } from '../../../src/bridge/config/local-forward-option.js';
import type { LocalBinding } from '../../../src/bridge/config/model.js';

/** Loopback plus two addresses the examples bind to, standing in for this machine's interfaces. */
const isLocal = (ip: string) => ip.startsWith('127.') || ip === '::1' || ip === '192.168.0.6' || ip === '10.10.100.2';

const parse = (text: string): LocalForwardEntry => parseLocalForwardOption(text, isLocal);
const tcp = (port: number, portName: string, bindAddress?: string): LocalBinding => ({
  kind: 'tcp',
  port,
  portName,
  noAuthentication: false,
  ...(bindAddress !== undefined && { bindAddress }),
});
const udp = (port: number, portName: string, bindAddress?: string): LocalBinding => ({ ...tcp(port, portName, bindAddress), kind: 'udp' }) as LocalBinding;
const unix = (path: string, portName: string): LocalBinding => ({ kind: 'unix', path, portName, noAuthentication: false });

function rejects(text: string, pattern: RegExp): void {
  assert.throws(
    () => parse(text),
    (err: Error) => {
      assert.ok(err instanceof BridgeConfigError, `${text}: ${err.name}`);
      assert.ok(err.message.startsWith('-L "'), err.message);
      assert.doesNotMatch(err.message, /\n/);
      assert.match(err.message, pattern);
      return true;
    },
  );
}

describe('-L grammar: reference §1.2 examples', () => {
  const cases: [string, string, LocalBinding[]][] = [
    ['127.0.100.1:8008:foo', 'foo', [tcp(8008, '8008', '127.0.100.1')]],
    ['127.0.100.2:8008:bar', 'bar', [tcp(8008, '8008', '127.0.100.2')]],
    // azbridge's `name:baz` and `name/sock1:baz` took a plain word as a socket ./name; here a socket
    // path must contain '/' (see the refusals below), so these are the same sockets written as paths.
    ['./name:baz', 'baz', [unix('./name', 'name')]],
    ['3000U:foobar', 'foobar', [udp(3000, '3000U')]],
    ['3000:foobar', 'foobar', [tcp(3000, '3000')]],
    ['127.0.0.8:16161/sql1;127.0.0.9:16161/sql2:db', 'db', [tcp(16161, 'sql1', '127.0.0.8'), tcp(16161, 'sql2', '127.0.0.9')]],
    ['7777;7777U:relay', 'relay', [tcp(7777, '7777'), udp(7777, '7777U')]],
    ['13389/rdp:relay', 'relay', [tcp(13389, 'rdp')]],
    ['3434U:relay', 'relay', [udp(3434, '3434U')]],
    ['16161:db', 'db', [tcp(16161, '16161')]],
    ['127.1.2.3:1433:relay', 'relay', [tcp(1433, '1433', '127.1.2.3')]],
    ['192.168.0.6:1433:relay', 'relay', [tcp(1433, '1433', '192.168.0.6')]],
    ['127.3.2.1:5000:myname', 'myname', [tcp(5000, '5000', '127.3.2.1')]],
    ['127.0.9.1:8088/test:a1', 'a1', [tcp(8088, 'test', '127.0.9.1')]],
    ['3001:a1', 'a1', [tcp(3001, '3001')]],
    // Issue #72: the UDP suffix after a host must not eat a digit.
    ['localhost:123U:endpoint', 'endpoint', [udp(123, '123U', 'localhost')]],
    // README: a host name mapped to a loopback address in the hosts file; the runtime resolves it.
    ['sql.corp.example.com:16161:db', 'db', [tcp(16161, '16161', 'sql.corp.example.com')]],
    ['[./name]/sock1:baz', 'baz', [unix('./name', 'sock1')]],
  ];
  for (const [text, relayName, bindings] of cases) {
    it(`-L ${text}`, () => {
      assert.deepEqual(parse(text), { relayName, bindings, source: `-L ${text}` });
    });
  }

  it('accepts relay names with _, /, . and -', () => {
    for (const name of ['foobar_foobar', 'foobar/foobar', 'foobar.foobar', 'foobar-foobar', 'a1.linux']) {
      assert.equal(parse(`3000:${name}`).relayName, name);
    }
  });

  it('strips quotes a shell left around the expression', () => {
    assert.equal(parse('"3000:foobar"').relayName, 'foobar');
  });
});

describe('-L grammar: hybridge additions', () => {
  const cases: [string, LocalBinding[]][] = [
    ['[::1]:8080:relay', [tcp(8080, '8080', '::1')]],
    ['[::1]:8080/web:relay', [tcp(8080, 'web', '::1')]],
    ['[::1]:53U:relay', [udp(53, '53U', '::1')]],
    ['[::1]:8080;127.0.0.1:8080:relay', [tcp(8080, '8080', '::1'), tcp(8080, '8080', '127.0.0.1')]],
    ['0.0.0.0:8080:relay', [tcp(8080, '8080', '0.0.0.0')]],
    ['[::]:8080:relay', [tcp(8080, '8080', '::')]],
    ['any:8080:relay', [tcp(8080, '8080', '0.0.0.0')]],
    ['/tmp/app.sock:relay', [unix('/tmp/app.sock', 'app.sock')]],
    ['./app.sock:relay', [unix('./app.sock', 'app.sock')]],
    ['../run/app.sock:relay', [unix('../run/app.sock', 'app.sock')]],
    ['[/run/with:colon.sock]/api:relay', [unix('/run/with:colon.sock', 'api')]],
    ['[/run/x.sock]:relay', [unix('/run/x.sock', 'x.sock')]],
    ['[/run/x.sock]/x;8080:relay', [unix('/run/x.sock', 'x'), tcp(8080, '8080')]],
    ['/tmp/a.sock;/tmp/b.sock:relay', [unix('/tmp/a.sock', 'a.sock'), unix('/tmp/b.sock', 'b.sock')]],
  ];
  for (const [text, bindings] of cases) {
    it(`-L ${text}`, () => {
      assert.deepEqual(parse(text).bindings, bindings);
    });
  }

  it('takes the relay name after the last colon outside brackets', () => {
    assert.equal(parse('[/run/a:b.sock]/api:my/relay').relayName, 'my/relay');
  });
});

describe('-L grammar: rejected expressions', () => {
  const cases: [string, RegExp][] = [
    ['70000:foobar', /port 70000 is out of range 1\.\.65535/],
    ['0:foobar', /port 0 is out of range/],
    ['80:foo^^^bar', /relay name "foo\^\^\^bar" may contain only/],
    ['1.1.1.1:80:foobar', /1\.1\.1\.1 is not an address of this machine/],
    ['foobar', /missing ':relay_name'/],
    ['', /empty/],
    ['8080:', /relay name is empty/],
    [':relay', /binding is empty/],
    ['8080;;8081:relay', /binding is empty/],
    ['a:b:c:relay', /too many ':'.*brackets/],
    ['::1:8080:relay', /too many ':'/],
    ['127.0.0.1:http:relay', /"http" after "127\.0\.0\.1:" is not a port/],
    [':8080:relay', /empty bind address/],
    ['3000u:relay', /upper-case U, as in 3000U/],
    ['1/2/3:relay', /more than one '\/'/],
    ['8080/:relay', /port name is empty/],
    ['8080/bad^name:relay', /port name "bad\^name" may contain only/],
    [`8080/${'p'.repeat(256)}:relay`, /longer than 255/],
    ['a b:relay', /"a b" is not a port .* a Unix socket path must contain '\/'/],
    ['name:baz', /"name" is not a port \(N for TCP, NU for UDP\); an address needs a port after it \(name:8080:relay\), and a Unix socket path must contain '\/' \(\.\/name or \/run\/name\.sock\)$/],
    ['name/sock1:baz', /"name" is not a port .* \(\.\/name or \/run\/name\.sock\)$/],
    ['localhost:web', /"localhost" is not a port .* \(localhost:8080:relay\)/],
    ['[/tmp/x]junk:relay', /expected "\/port_name" after/],
    ['[]:relay', /socket path is empty/],
    ['[::1:8080:relay', /'\[' without a '\]'/],
    ['[/run/a:b.sock]:relay', /no usable default port name/],
    ['ex^mple.com:80:relay', /not a valid IP address or host name/],
  ];
  for (const [text, pattern] of cases) {
    it(`rejects -L ${text.length > 40 ? text.slice(0, 40) + '…' : text || '(empty)'}`, () => rejects(text, pattern));
  }
});
