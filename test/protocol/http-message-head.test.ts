import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BodyCollector, encodeRequestHead, HttpMessageError, MAX_RESPONSE_HEAD_BYTES, parseResponseHead } from '../../src/protocol/http-message-head.js';

const head = (text: string) => Buffer.from(text, 'latin1');

describe('HTTP request head', () => {
  it('writes the request line and the headers in order, Latin-1 encoded', () => {
    const bytes = encodeRequestHead('GET', '/$hc/a?sb-hc-action=connect', { Host: '[::1]:9', 'X-Name': 'caf\u00e9' });
    assert.equal(bytes.toString('latin1'), 'GET /$hc/a?sb-hc-action=connect HTTP/1.1\r\nHost: [::1]:9\r\nX-Name: caf\u00e9\r\n\r\n');
    assert.equal(bytes.length, 73, 'é is one byte in Latin-1');
  });

  it('refuses values, names and targets that would split the message', () => {
    assert.throws(() => encodeRequestHead('GET', '/', { 'X-A': 'v\r\nInjected: 1' }), HttpMessageError);
    assert.throws(() => encodeRequestHead('GET', '/', { 'X-A': 'v\nx' }), HttpMessageError);
    assert.throws(() => encodeRequestHead('GET', '/', { 'Bad Name': 'v' }), HttpMessageError);
    assert.throws(() => encodeRequestHead('GET', '/a b', {}), HttpMessageError);
    assert.throws(() => encodeRequestHead('GET', '/\u0100', {}), HttpMessageError);
    assert.throws(() => encodeRequestHead('GET', '/', { 'X-A': '\u20ac' }), HttpMessageError);
  });
});

describe('HTTP response head', () => {
  it('waits for the blank line, then gives status, reason, headers and where the rest starts', () => {
    const full = head('HTTP/1.1 404 Endpoint does not exist. TrackingId:x\r\nContent-Length: 2\r\nX-Twice: a\r\nx-twice: b\r\nSet-Cookie: c=1\r\nSet-Cookie: d=2\r\n\r\nok');
    for (let cut = 0; cut < full.length - 2; cut++) assert.equal(parseResponseHead(full.subarray(0, cut)), undefined, `cut at ${cut}`);
    const parsed = parseResponseHead(full)!;
    assert.equal(parsed.statusCode, 404);
    assert.equal(parsed.statusMessage, 'Endpoint does not exist. TrackingId:x');
    assert.equal(parsed.headers['content-length'], '2');
    assert.equal(parsed.headers['x-twice'], 'a, b');
    assert.deepEqual(parsed.headers['set-cookie'], ['c=1', 'd=2']);
    assert.equal(full.subarray(parsed.length).toString(), 'ok');
  });

  it('accepts an empty reason phrase', () => {
    const parsed = parseResponseHead(head('HTTP/1.1 101\r\nUpgrade: websocket\r\n\r\n'))!;
    assert.equal(parsed.statusCode, 101);
    assert.equal(parsed.statusMessage, '');
  });

  it('rejects what is not an HTTP/1.1 response, malformed header lines and oversized heads', () => {
    assert.throws(() => parseResponseHead(head('SSH-2.0-OpenSSH\r\n\r\n')), /not an HTTP\/1.1 response/);
    assert.throws(() => parseResponseHead(head('HTTP/1.1 99 Low\r\n\r\n')), /not an HTTP\/1.1 response/);
    assert.throws(() => parseResponseHead(head('HTTP/1.1 200 OK\r\nno colon here\r\n\r\n')), /malformed response header/);
    assert.throws(() => parseResponseHead(head('HTTP/1.1 200 OK\r\n: empty name\r\n\r\n')), /malformed response header/);
    assert.throws(() => parseResponseHead(Buffer.alloc(MAX_RESPONSE_HEAD_BYTES + 1, 0x61)), /larger than/);
    const big = head(`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(MAX_RESPONSE_HEAD_BYTES)}\r\n\r\n`);
    assert.throws(() => parseResponseHead(big), /larger than/);
  });
});

describe('HTTP response head (fuzz regressions)', () => {
  it('headers named __proto__ or constructor are kept as headers (fuzz: "__proto__: !"; "constructor" read Object)', () => {
    const parsed = parseResponseHead(head('HTTP/1.1 100 \r\n__proto__: !\r\nConstructor: x\r\ntoString: y\r\n\r\n'));
    assert.ok(parsed);
    assert.deepEqual(Object.entries(parsed.headers), [['__proto__', '!'], ['constructor', 'x'], ['tostring', 'y']]);
  });
});

describe('response body collector', () => {
  const collect = (text: string, chunks: string[], limit = 4096) => {
    const parsed = parseResponseHead(head(text))!;
    const body = new BodyCollector(parsed, limit);
    let done = body.done;
    for (const chunk of chunks) done = body.push(Buffer.from(chunk, 'latin1'));
    return { done, text: body.text };
  };

  it('stops at Content-Length', () => {
    assert.deepEqual(collect('HTTP/1.1 401 No\r\nContent-Length: 5\r\n\r\n', ['ab', 'cdeXYZ']), { done: true, text: 'abcde' });
    assert.deepEqual(collect('HTTP/1.1 401 No\r\nContent-Length: 5\r\n\r\n', ['ab']), { done: false, text: 'ab' });
    assert.deepEqual(collect('HTTP/1.1 401 No\r\nContent-Length: 0\r\n\r\n', []), { done: true, text: '' });
  });

  it('decodes chunked bodies split anywhere, extensions included', () => {
    const encoded = '4;ext=1\r\nWiki\r\n6\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\n\r\n';
    for (let cut = 0; cut <= encoded.length; cut++) {
      const got = collect('HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n', [encoded.slice(0, cut), encoded.slice(cut)]);
      assert.deepEqual(got, { done: true, text: 'Wikipedia in \r\n\r\nchunks.' }, `cut at ${cut}`);
    }
    assert.throws(() => collect('HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n', ['zz\r\n']), HttpMessageError);
  });

  it('reads to the end of the connection without framing, and never keeps more than the limit', () => {
    assert.deepEqual(collect('HTTP/1.1 503 Busy\r\n\r\n', ['abc', 'def']), { done: false, text: 'abcdef' });
    assert.deepEqual(collect('HTTP/1.1 503 Busy\r\n\r\n', ['abcdef', 'ghi'], 4), { done: true, text: 'abcd' });
    assert.deepEqual(collect('HTTP/1.1 204 Empty\r\n\r\n', []), { done: true, text: '' });
  });
});
