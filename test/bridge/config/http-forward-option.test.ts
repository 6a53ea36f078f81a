import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BridgeConfigError } from '../../../src/bridge/config/config-error.js';
import { parseHttpForwardOption } from '../../../src/bridge/config/http-forward-option.js';
import type { HttpRemoteBinding } from '../../../src/bridge/config/model.js';

const http = (scheme: 'http' | 'https', host: string, port: number, path = '/'): HttpRemoteBinding => ({
  kind: 'http',
  portName: scheme,
  scheme,
  host,
  port,
  path,
  insecure: false,
});

describe('-H grammar: reference §1.5 examples', () => {
  const cases: [string, string, HttpRemoteBinding[]][] = [
    ['foo5:https/service.example.com', 'foo5', [http('https', 'service.example.com', 443)]],
    ['bar5:http/service.example.com:81', 'bar5', [http('http', 'service.example.com', 81)]],
    ['baz5:http/service.example.com', 'baz5', [http('http', 'service.example.com', 80)]],
    ['abc/def:http/service.example.com/foo', 'abc/def', [http('http', 'service.example.com', 80, '/foo/')]],
    ['ghi/jkl:http/service1.example.com/foo;http/service2.example.com/foo', 'ghi/jkl', [http('http', 'service1.example.com', 80, '/foo/'), http('http', 'service2.example.com', 80, '/foo/')]],
    ['relay:http/localhost:3000', 'relay', [http('http', 'localhost', 3000)]],
    ['relay:https/orders.local/api/v1:8443', 'relay', [http('https', 'orders.local', 8443, '/api/v1/')]],
  ];
  for (const [text, relayName, bindings] of cases) {
    it(`-H ${text}`, () => {
      assert.deepEqual(parseHttpForwardOption(text), { relayName, bindings, source: `-H ${text}` });
    });
  }

  it("documents azbridge's parse of the README's -H latavola:https/443: host \"443\", port 443", () => {
    assert.deepEqual(parseHttpForwardOption('latavola:https/443').bindings, [http('https', '443', 443)]);
  });

  it('keeps several targets with the same scheme: the runtime balances across them', () => {
    const { bindings } = parseHttpForwardOption('web:http/a.local:8080;http/b.local:8080');
    assert.deepEqual(bindings.map((b) => b.portName), ['http', 'http']);
  });
});

describe('-H grammar: hybridge additions', () => {
  it('accepts IPv6 hosts in brackets, with and without a path', () => {
    assert.deepEqual(parseHttpForwardOption('relay:http/[::1]:8080').bindings, [http('http', '::1', 8080)]);
    assert.deepEqual(parseHttpForwardOption('relay:https/[fd00::1]/api/v1').bindings, [http('https', 'fd00::1', 443, '/api/v1/')]);
  });

  it('drops empty path segments and takes the scheme in any case', () => {
    assert.deepEqual(parseHttpForwardOption('relay:HTTP/host//a/b/').bindings, [http('http', 'host', 80, '/a/b/')]);
  });
});

describe('-H grammar: rejected expressions', () => {
  const cases: [string, RegExp][] = [
    ['relay:ftp/host', /must start with the port name http\/ or https\//],
    ['relay:host:80', /must start with the port name http\//],
    ['relay:http', /no host after "http\/"/],
    ['relay:http/', /no host after/],
    ['relay:http/host:abc', /"abc" is not a TCP port number/],
    ['relay:http/host:8080U', /"8080U" is not a TCP port number/],
    ['relay:http/host:70000', /port 70000 is out of range/],
    ['relay:http/h:1:2', /too many ':'/],
    ['relay:http/bad^host', /not a valid host name/],
    ['bad^relay:http/x', /relay name/],
    ['nocolon', /missing ':' after the relay name/],
    ['relay:', /binding is empty/],
  ];
  for (const [text, pattern] of cases) {
    it(`rejects -H ${text}`, () => {
      assert.throws(
        () => parseHttpForwardOption(text),
        (err: Error) => err instanceof BridgeConfigError && err.message.startsWith(`-H "${text}": `) && pattern.test(err.message) && !err.message.includes('\n'),
      );
    });
  }
});
