import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { relayResponseHeaders, targetRequestHeaders } from '../../src/bridge/remote/http-headers.js';
import { targetPath } from '../../src/bridge/remote/http-target-path.js';

describe('-H target paths', () => {
  test('the relay name is stripped and the rest appended to the base path', () => {
    assert.equal(targetPath('/latavola/orders/7?x=1', 'latavola', '/'), '/orders/7?x=1');
    assert.equal(targetPath('/latavola', 'latavola', '/'), '/');
    assert.equal(targetPath('/abc/def/foo', 'abc/def', '/base/'), '/base/foo');
    assert.equal(targetPath('/LaTavola/x', 'latavola', '/'), '/x', 'the relay name matches case-insensitively, as the relay does');
  });

  test('dot segments are resolved and may not leave the base path', () => {
    assert.equal(targetPath('/r/a/../b', 'r', '/api/'), '/api/b');
    assert.equal(targetPath('/r/../../etc/passwd', 'r', '/api/'), undefined);
    assert.equal(targetPath('/r/%2e%2e/secret', 'r', '/api/'), undefined);
    assert.equal(targetPath('/r//evil.example/x', 'r', '/'), '/evil.example/x', 'a leading // never becomes a host');
  });

  test('the decision is made on the decoded path: encoded slashes and backslashes that would leave it are refused', () => {
    for (const target of ['/r/..%2fsecret', '/r/..%2Fsecret', '/r/%2e%2e%2fsecret', '/r/x/..%2f..%2fsecret', '/r/..%5csecret', '/r/..\\secret', '/r/a%2fb', '/r/a%00b', '/r/..;/secret', '/r/.;x/a', '/r/%zz']) {
      assert.equal(targetPath(target, 'r', '/sub/'), undefined, target);
    }
  });

  test('kept segments go out as written; what a request line cannot carry is percent-encoded', () => {
    assert.equal(targetPath('/r/a%20b/c%3Fd?q=%2F', 'r', '/sub/'), '/sub/a%20b/c%3Fd?q=%2F');
    assert.equal(targetPath('/r/x/%2e%2e/y', 'r', '/sub/'), '/sub/y', 'an encoded dot segment is resolved like a plain one');
    assert.equal(targetPath('/r/x/..', 'r', '/sub/'), '/sub/', 'a final dot segment leaves a directory');
    assert.equal(targetPath('/r/caf\u00e9#x', 'r', '/'), '/caf%C3%A9%23x');
    assert.equal(targetPath('/%72/x', 'r', '/'), '/x', 'the relay name is matched decoded');
  });

  test('sb-hc-* query parameters (the relay token) are not passed on', () => {
    assert.equal(targetPath('/r/x?sb-hc-token=SECRET&a=1', 'r', '/'), '/x?a=1');
    assert.equal(targetPath('/r/x?sb-hc-action=request', 'r', '/'), '/x');
  });
});

describe('-H header rules (reference/azbridge.md §3.5)', () => {
  test('request: everything but Host and hop-by-hop headers, Authorization and Content-Type unchanged', () => {
    const headers = targetRequestHeaders([
      'Host', 'relay.example',
      'Authorization', 'Bearer bearbear',
      'Content-Type', 'application/cloudevents+json;charset=utf-8;foo=bar',
      'Connection', 'keep-alive, X-Drop',
      'X-Drop', 'dropped because Connection names it',
      'Keep-Alive', 'timeout=5',
      'Transfer-Encoding', 'chunked',
      'Accept', 'a',
      'Accept', 'b',
    ]);
    assert.deepEqual(headers, {
      Authorization: 'Bearer bearbear',
      'Content-Type': 'application/cloudevents+json;charset=utf-8;foo=bar',
      Accept: ['a', 'b'],
    });
  });

  test('response: everything but hop-by-hop headers', () => {
    assert.deepEqual(relayResponseHeaders({ 'content-type': 'text/plain', 'transfer-encoding': 'chunked', connection: 'close', 'set-cookie': ['a=1', 'b=2'] }), {
      'content-type': 'text/plain',
      'set-cookie': ['a=1', 'b=2'],
    });
  });
});

describe('-H base paths', () => {
  test('dot segments, encoded slashes, characters a URL path cannot carry and escapes that are not UTF-8 (fuzz: %AA) are refused', async () => {
    const { parseHttpForwardOption } = await import('../../src/bridge/config/index.js');
    assert.equal((parseHttpForwardOption('r:http/127.0.0.1/a/b%20c:80').bindings[0] as { path: string }).path, '/a/b%20c/');
    for (const expression of ['r:http/127.0.0.1/..:80', 'r:http/127.0.0.1/a/%2e%2e:80', 'r:http/127.0.0.1/a%2fb:80', 'r:http/127.0.0.1/a%5cb:80', 'r:http/127.0.0.1/a b:80', 'r:http/127.0.0.1/a?b:80', 'r:http/127.0.0.1/%AA:80']) {
      assert.throws(() => parseHttpForwardOption(expression), (err: Error) => err.name === 'BridgeConfigError' && /path segment/.test(err.message), expression);
    }
  });
});
