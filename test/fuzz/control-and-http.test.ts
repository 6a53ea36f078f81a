/**
 * Fuzz targets: control-channel JSON (src/protocol/control-messages.ts) and the HTTP head reader and
 * body collector (src/protocol/http-message-head.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ControlMessageError,
  encodeCommand,
  parseHeaderMap,
  parseListenerCommand,
  parseServiceCommand,
  type AcceptCommand,
  type RequestCommand,
  type ResponseCommand,
} from '../../src/protocol/control-messages.js';
import { BodyCollector, encodeRequestHead, HttpMessageError, parseResponseHead } from '../../src/protocol/http-message-head.js';
import { bytes, cuts, fc, fuzz, onlyThrows, split, text, trickyKeys } from './fuzz-kit.js';

const headerName = fc.oneof(fc.stringMatching(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,20}$/), trickyKeys);
const headerMap = fc.dictionary(headerName, fc.oneof(fc.string({ maxLength: 30 }), fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 })), { maxKeys: 6 });
const commandJson = fc.oneof(
  text,
  fc.json({ maxDepth: 4 }),
  fc.record({ accept: fc.jsonValue({ maxDepth: 3 }) }).map((v) => JSON.stringify(v)),
  fc.record({ request: fc.dictionary(fc.oneof(fc.constantFrom('address', 'id', 'requestTarget', 'method', 'requestHeaders', 'body', 'remoteEndpoint'), trickyKeys), fc.jsonValue({ maxDepth: 2 })) }).map((v) => JSON.stringify(v)),
  fc.record({ response: fc.dictionary(fc.oneof(fc.constantFrom('requestId', 'statusCode', 'statusDescription', 'responseHeaders', 'body'), trickyKeys), fc.jsonValue({ maxDepth: 2 })) }).map((v) => JSON.stringify(v)),
);

/** `value` as ordinary objects (fast-check also makes null-prototype ones), own `__proto__` keys kept. */
function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

describe('fuzz: control-channel JSON', () => {
  it('any text: the parsers answer a command or throw ControlMessageError', () => {
    fuzz(commandJson, (json) => {
      onlyThrows(() => parseServiceCommand(json), ControlMessageError);
      onlyThrows(() => parseListenerCommand(json), ControlMessageError);
    });
  });

  it('header maps keep every header, whatever its name (__proto__, constructor, ...)', () => {
    fuzz(headerMap, (map) => {
      const parsed = parseHeaderMap(JSON.parse(JSON.stringify(map)), 'headers');
      assert.deepEqual(Object.entries(parsed ?? {}), Object.entries(plain(map)));
    });
  });

  it('accept, request and response round trip through encodeCommand', () => {
    const id = fc.string({ minLength: 1, maxLength: 20 });
    const endpoint = fc.record({ address: fc.string({ maxLength: 20 }), port: fc.integer({ min: 0, max: 65535 }) });
    fuzz(fc.record({ address: id, id, headers: fc.dictionary(headerName, fc.string({ maxLength: 20 }), { maxKeys: 5 }), remote: fc.option(endpoint, { nil: undefined }) }), (a) => {
      const accept: AcceptCommand = { address: a.address, id: a.id, connectHeaders: a.headers, ...(a.remote && { remoteEndpoint: a.remote }) };
      const parsed = parseServiceCommand(encodeCommand('accept', accept));
      assert.deepEqual(parsed, { kind: 'accept', accept: plain(accept) });
    });
    fuzz(fc.record({ address: id, id, requestTarget: fc.option(fc.string({ maxLength: 40 }), { nil: undefined }), method: fc.option(fc.string({ maxLength: 8 }), { nil: undefined }), requestHeaders: fc.option(headerMap, { nil: undefined }), body: fc.option(fc.boolean(), { nil: undefined }) }), (r) => {
      const request = Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)) as unknown as RequestCommand;
      assert.deepEqual(parseServiceCommand(encodeCommand('request', request)), { kind: 'request', request: plain(request) });
    });
    fuzz(fc.record({ requestId: id, statusCode: fc.integer({ min: 100, max: 999 }), statusDescription: fc.option(fc.string({ maxLength: 30 }), { nil: undefined }), responseHeaders: fc.option(headerMap, { nil: undefined }), body: fc.boolean() }), (r) => {
      const response = Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)) as unknown as ResponseCommand;
      assert.deepEqual(parseListenerCommand(encodeCommand('response', response)), { kind: 'response', response: plain(response) });
    });
  });
});

/** A response head as a server would write it. */
const responseHead = fc.record({
  status: fc.integer({ min: 100, max: 999 }),
  message: fc.stringMatching(/^[ -~]{0,20}$/),
  headers: fc.array(fc.tuple(headerName, fc.stringMatching(/^[!-~]([ -~]{0,18}[!-~])?$/)), { maxLength: 8 }),
});

describe('fuzz: HTTP response heads and bodies', () => {
  it('any bytes: parseResponseHead answers a head, undefined (incomplete) or HttpMessageError', () => {
    fuzz(bytes, (input) => {
      const head = onlyThrows(() => parseResponseHead(Buffer.from(input)), HttpMessageError);
      if (head) assert.ok(head.length <= input.length);
    });
  });

  it('a head a server wrote parses to its status and headers; every prefix of it is incomplete', () => {
    fuzz(fc.tuple(responseHead, fc.uint8Array({ maxLength: 20 })), ([h, after]) => {
      const wire = Buffer.from(`HTTP/1.1 ${h.status} ${h.message}\r\n${h.headers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`, 'latin1');
      const head = parseResponseHead(Buffer.concat([wire, after]));
      assert.ok(head);
      assert.equal(head.statusCode, h.status);
      assert.equal(head.length, wire.length);
      const expected = new Map<string, string[]>();
      for (const [n, v] of h.headers) expected.set(n.toLowerCase(), [...(expected.get(n.toLowerCase()) ?? []), v]);
      assert.deepEqual(Object.keys(head.headers).sort(), [...expected.keys()].sort());
      for (const [name, values] of expected) {
        assert.deepEqual(head.headers[name], name === 'set-cookie' ? values : values.join(', '), name);
      }
      for (let cut = 0; cut < wire.length - 1; cut += 7) assert.equal(parseResponseHead(wire.subarray(0, cut)), undefined);
    });
  });

  it('a chunked or Content-Length body collects the same text in any chunking, at most the limit', () => {
    fuzz(fc.tuple(fc.string({ maxLength: 300 }), fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 10 }), cuts, fc.boolean(), fc.integer({ min: 1, max: 400 })), ([body, sizes, at, chunked, limit]) => {
      const data = Buffer.from(body, 'utf8');
      let wire: Buffer;
      if (chunked) {
        const parts: Buffer[] = [];
        for (let offset = 0, i = 0; offset < data.length; i++) {
          const piece = data.subarray(offset, offset + sizes[i % sizes.length]!);
          parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
          offset += piece.length;
        }
        wire = Buffer.concat([...parts, Buffer.from('0\r\n\r\n')]);
      } else wire = data;
      const headers = chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(data.length) };
      const collector = new BodyCollector({ statusCode: 500, statusMessage: '', headers, length: 0 }, limit);
      for (const chunk of split(wire, at)) if (collector.push(chunk)) break;
      assert.equal(collector.text, data.subarray(0, limit).toString('utf8'));
    });
  });

  it('a chunked body of arbitrary bytes: BodyCollector only throws HttpMessageError and keeps at most the limit', () => {
    fuzz(fc.tuple(bytes, cuts), ([input, at]) => {
      const collector = new BodyCollector({ statusCode: 500, statusMessage: '', headers: { 'transfer-encoding': 'chunked' }, length: 0 }, 256);
      for (const chunk of split(input, at)) if (onlyThrows(() => collector.push(chunk), HttpMessageError) !== false) break;
      assert.ok(Buffer.byteLength(collector.text) <= 256 * 3);
    });
  });

  it('encodeRequestHead refuses what a request line cannot carry with HttpMessageError', () => {
    fuzz(fc.tuple(text, fc.dictionary(fc.oneof(headerName, text), text, { maxKeys: 4 })), ([target, headers]) => {
      const head = onlyThrows(() => encodeRequestHead('GET', target, headers), HttpMessageError);
      if (head) assert.doesNotMatch(head.toString('latin1').slice(0, -4), /\r\n\r\n/, 'no header injection');
    });
  });
});
