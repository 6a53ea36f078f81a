import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isLoopbackBind, parseBindAddress } from '../../src/tunnel/bind-address.js';

describe('parseBindAddress (-b/--bind)', () => {
  const good: [string, boolean, { host: string | undefined; port: number }][] = [
    ['127.0.0.1:0', false, { host: '127.0.0.1', port: 0 }],
    ['127.0.0.1:1080', false, { host: '127.0.0.1', port: 1080 }],
    ['[::1]:2222', false, { host: '::1', port: 2222 }],
    [':8080', false, { host: undefined, port: 8080 }],
    ['localhost:22', false, { host: 'localhost', port: 22 }],
    ['127.0.0.1:2222', true, { host: '0.0.0.0', port: 2222 }],
  ];
  for (const [text, gateway, expected] of good) {
    it(`reads ${text}${gateway ? ' --gateway' : ''}`, () => assert.deepEqual(parseBindAddress(text, gateway), expected));
  }
  const bad: [string, RegExp][] = [
    ['127.0.0.1', /no port/],
    ['127.0.0.1:70000', /0 to 65535/],
    ['::1:22', /must be bracketed/],
    ['[::1]', /no port/],
    ['[10.0.0.1]:22', /not an IPv6 address/],
    ['bad host:1', /not a valid host name/],
  ];
  for (const [text, message] of bad) {
    it(`rejects ${text}`, () => assert.throws(() => parseBindAddress(text), message));
  }
  it('knows loopback from the rest', () => {
    assert.equal(isLoopbackBind(parseBindAddress('127.0.0.1:0')), true);
    assert.equal(isLoopbackBind(parseBindAddress('[::1]:0')), true);
    assert.equal(isLoopbackBind(parseBindAddress('localhost:0')), true);
    assert.equal(isLoopbackBind(parseBindAddress(':1080')), false);
    assert.equal(isLoopbackBind(parseBindAddress('127.0.0.1:1080', true)), false);
    assert.equal(isLoopbackBind(parseBindAddress('10.1.2.3:1080')), false);
  });
});
