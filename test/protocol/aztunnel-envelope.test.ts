import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  acceptedResponse,
  base32NoPadding,
  CAPACITY_CODE,
  capacityResponse,
  DIAL_FAILURE_CODES,
  encodeConnectEnvelope,
  encodeConnectResponse,
  EnvelopeError,
  formatTarget,
  isDialFailureCode,
  isTunnelId,
  MAX_ENVELOPE_BYTES,
  newTunnelId,
  parseConnectEnvelope,
  parseConnectResponse,
  parseTarget,
  rejectedResponse,
  Rejection,
  TargetError,
} from '../../src/protocol/aztunnel-envelope.js';

function rejectionOf(data: string | Uint8Array): string {
  const result = parseConnectEnvelope(data);
  assert.equal(result.ok, false, `expected a rejection for ${String(data)}`);
  return result.ok ? '' : result.rejection;
}

describe('aztunnel rejection vocabulary', () => {
  it('keeps aztunnel’s messages byte for byte', () => {
    assert.equal(Rejection.InvalidEnvelope, 'invalid envelope');
    assert.equal(Rejection.UnsupportedVersion, 'unsupported protocol version');
    assert.equal(Rejection.MissingTarget, 'missing target');
    assert.equal(Rejection.TargetNotAllowed, 'target not allowed');
    assert.equal(Rejection.ConnectionFailed, 'connection failed');
    assert.equal(Rejection.AtCapacity, 'listener at capacity');
  });

  it('has the six dial failure codes', () => {
    assert.deepEqual([...DIAL_FAILURE_CODES], ['connection_refused', 'host_unreachable', 'network_unreachable', 'timeout', 'dns_not_found', 'dns_timeout']);
    for (const code of DIAL_FAILURE_CODES) assert.ok(isDialFailureCode(code));
    assert.ok(!isDialFailureCode('max_connections'));
    assert.ok(!isDialFailureCode(undefined));
  });
});

describe('parseTarget', () => {
  const accepted: [string, string, number][] = [
    ['10.0.0.5:22', '10.0.0.5', 22],
    ['db.internal:5432', 'db.internal', 5432],
    ['DB.Internal.:5432', 'DB.Internal.', 5432],
    ['localhost:1', 'localhost', 1],
    ['my_host-1.example.com:65535', 'my_host-1.example.com', 65535],
    ['[::1]:22', '::1', 22],
    ['[fd00::5]:8080', 'fd00::5', 8080],
    ['[::ffff:10.0.0.5]:443', '::ffff:10.0.0.5', 443],
    ['host:0022', 'host', 22],
  ];
  for (const [text, host, port] of accepted) {
    it(`accepts ${text}`, () => assert.deepEqual(parseTarget(text), { host, port }));
  }

  const rejected: [string, RegExp][] = [
    ['', /has no port/],
    ['host', /has no port; write host:port/],
    ['host:', /no valid port/],
    ['host:0', /out of range/],
    ['host:65536', /out of range/],
    ['host:123456', /no valid port/],
    ['host:+22', /no valid port/],
    ['host:2 2', /no valid port/],
    [':22', /host is empty/],
    ['fd00::1:22', /must be bracketed: \[fd00::1\]:22/],
    ['::1:22', /must be bracketed/],
    ['[::1]', /has no port/],
    ['[::1]22', /has no port/],
    ['[::1:22', /no closing/],
    ['[10.0.0.1]:22', /not an IPv6 address/],
    ['[fe80::1%eth0]:22', /zone identifiers/],
    ['bad host:22', /not a valid host name/],
    ['-lead.example:22', /not a valid host name/],
    ['trail-.example:22', /not a valid host name/],
    ['a..b:22', /not a valid host name/],
    ['*:22', /not a valid host name/],
    [`${'a'.repeat(64)}.example:22`, /not a valid host name/],
    [`${'a.'.repeat(127)}ab:22`, /not a valid host name/],
    ['10.1:22', /not a valid IPv4 address or host name/],
    ['0x7f000001:80', /not a valid IPv4 address or host name/],
    ['1.2.3.04:22', /not a valid IPv4 address or host name/],
    ['256.1.1.1:22', /not a valid IPv4 address or host name/],
    ['2130706433:80', /not a valid IPv4 address or host name/],
    ['x'.repeat(301), /too long/],
  ];
  for (const [text, message] of rejected) {
    it(`rejects ${JSON.stringify(text.length > 40 ? text.slice(0, 40) + '…' : text)}`, () => {
      assert.throws(() => parseTarget(text), (err: unknown) => err instanceof TargetError && message.test(err.message));
    });
  }

  it('formats IPv6 hosts in brackets', () => {
    assert.equal(formatTarget('fd00::5', 22), '[fd00::5]:22');
    assert.equal(formatTarget('10.0.0.5', 22), '10.0.0.5:22');
    assert.equal(formatTarget('example.com', 443), 'example.com:443');
  });
});

describe('ConnectEnvelope', () => {
  it('encodes exactly what an aztunnel sender sends', () => {
    assert.equal(encodeConnectEnvelope({ target: '10.0.0.5:22' }), '{"version":1,"target":"10.0.0.5:22"}');
  });

  it('encodes metadata and bridge_id in aztunnel’s field order, leaving out empty ones', () => {
    assert.equal(
      encodeConnectEnvelope({ target: '[fd00::5]:22', metadata: { a: 'b' }, bridgeId: 'ABCDEFGHIJKLMNOP' }),
      '{"version":1,"target":"[fd00::5]:22","metadata":{"a":"b"},"bridge_id":"ABCDEFGHIJKLMNOP"}',
    );
    assert.equal(encodeConnectEnvelope({ target: 'h:1', metadata: {}, bridgeId: '' }), '{"version":1,"target":"h:1"}');
  });

  it('refuses to encode an invalid target', () => {
    assert.throws(() => encodeConnectEnvelope({ target: 'no-port' }), TargetError);
  });

  it('parses an aztunnel envelope (text and bytes)', () => {
    for (const data of ['{"version":1,"target":"10.0.0.5:22"}', Buffer.from('{"version":1,"target":"10.0.0.5:22"}')]) {
      assert.deepEqual(parseConnectEnvelope(data), { ok: true, envelope: { target: '10.0.0.5:22' }, address: { host: '10.0.0.5', port: 22 } });
    }
  });

  it('round-trips metadata and bridge_id, ignores unknown fields and nulls', () => {
    const result = parseConnectEnvelope('{"version":1,"target":"[::1]:22","metadata":{"k":"v"},"bridge_id":"MZXW6YTBOIAAAAAA","future":{"x":1}}');
    assert.deepEqual(result, { ok: true, envelope: { target: '[::1]:22', metadata: { k: 'v' }, bridgeId: 'MZXW6YTBOIAAAAAA' }, address: { host: '::1', port: 22 } });
    const nulls = parseConnectEnvelope('{"version":1,"target":"h:1","metadata":null,"bridge_id":null}');
    assert.deepEqual(nulls, { ok: true, envelope: { target: 'h:1' }, address: { host: 'h', port: 1 } });
  });

  it('accepts an envelope of exactly the size limit', () => {
    const base = '{"version":1,"target":"h:1","metadata":{"pad":""}}';
    const padded = base.replace('"pad":""', `"pad":"${'x'.repeat(MAX_ENVELOPE_BYTES - base.length)}"`);
    assert.equal(Buffer.byteLength(padded), MAX_ENVELOPE_BYTES);
    assert.equal(parseConnectEnvelope(padded).ok, true);
    assert.equal(rejectionOf(padded.replace('"pad":"', '"pad":"x')), 'invalid envelope');
  });

  const cases: [string, string | Uint8Array, string][] = [
    ['not JSON', '{"version":1,', 'invalid envelope'],
    ['a JSON array', '[1]', 'invalid envelope'],
    ['a JSON string', '"x"', 'invalid envelope'],
    ['JSON null', 'null', 'invalid envelope'],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0x7d]), 'invalid envelope'],
    ['version as a string', '{"version":"1","target":"h:1"}', 'invalid envelope'],
    ['a fractional version', '{"version":1.5,"target":"h:1"}', 'invalid envelope'],
    ['no version', '{"target":"h:1"}', 'unsupported protocol version'],
    ['version 2', '{"version":2,"target":"h:1"}', 'unsupported protocol version'],
    ['version 0', '{"version":0,"target":"h:1"}', 'unsupported protocol version'],
    ['no target', '{"version":1}', 'missing target'],
    ['an empty target', '{"version":1,"target":""}', 'missing target'],
    ['a null target', '{"version":1,"target":null}', 'missing target'],
    ['a numeric target', '{"version":1,"target":22}', 'invalid envelope'],
    ['a target without port', '{"version":1,"target":"host"}', 'invalid target'],
    ['an unbracketed IPv6 target', '{"version":1,"target":"fd00::1:22"}', 'invalid target'],
    ['metadata as an array', '{"version":1,"target":"h:1","metadata":["a"]}', 'invalid envelope'],
    ['metadata with a number', '{"version":1,"target":"h:1","metadata":{"a":1}}', 'invalid envelope'],
    ['bridge_id as a number', '{"version":1,"target":"h:1","bridge_id":5}', 'invalid envelope'],
    ['a 65-char bridge_id', `{"version":1,"target":"h:1","bridge_id":"${'A'.repeat(65)}"}`, 'invalid envelope'],
    ['a bridge_id with a newline', '{"version":1,"target":"h:1","bridge_id":"A\\nB"}', 'invalid envelope'],
  ];
  for (const [name, data, rejection] of cases) {
    it(`answers "${rejection}" to ${name}`, () => assert.equal(rejectionOf(data), rejection));
  }

  it('explains a rejection for the log', () => {
    const result = parseConnectEnvelope('{"version":1,"target":"h:99999"}');
    assert.ok(!result.ok && /out of range/.test(result.detail));
  });
});

describe('ConnectResponse', () => {
  it('encodes exactly what an aztunnel listener sends', () => {
    assert.equal(encodeConnectResponse(acceptedResponse()), '{"version":1,"ok":true}');
    assert.equal(encodeConnectResponse(rejectedResponse(Rejection.TargetNotAllowed)), '{"version":1,"ok":false,"error":"target not allowed"}');
    assert.equal(
      encodeConnectResponse(rejectedResponse(Rejection.ConnectionFailed, 'connection_refused')),
      '{"version":1,"ok":false,"error":"connection failed","code":"connection_refused"}',
    );
  });

  it('adds listener_id last and encodes the capacity refusal in the same layout', () => {
    assert.equal(encodeConnectResponse(acceptedResponse('ABCDEFGHIJKLMNOP')), '{"version":1,"ok":true,"listener_id":"ABCDEFGHIJKLMNOP"}');
    assert.equal(
      encodeConnectResponse(capacityResponse('ABCDEFGHIJKLMNOP')),
      '{"version":1,"ok":false,"error":"listener at capacity","code":"max_connections","listener_id":"ABCDEFGHIJKLMNOP"}',
    );
    assert.equal(CAPACITY_CODE, 'max_connections');
  });

  it('parses aztunnel responses', () => {
    assert.deepEqual(parseConnectResponse('{"version":1,"ok":true}'), { ok: true });
    assert.deepEqual(parseConnectResponse(Buffer.from('{"version":1,"ok":false,"error":"connection failed","code":"dns_timeout"}')), {
      ok: false,
      error: 'connection failed',
      code: 'dns_timeout',
    });
    assert.deepEqual(parseConnectResponse('{"version":1,"ok":true,"listener_id":"ABCDEFGHIJKLMNOP","extra":1}'), { ok: true, listenerId: 'ABCDEFGHIJKLMNOP' });
    assert.deepEqual(parseConnectResponse('{"version":1,"ok":false,"error":"x","code":"from_the_future"}'), { ok: false, error: 'x', code: 'from_the_future' });
  });

  it('round-trips every response it encodes', () => {
    for (const response of [acceptedResponse(), acceptedResponse('ID'), capacityResponse(), rejectedResponse(Rejection.ConnectionFailed, 'timeout', 'L')]) {
      assert.deepEqual(parseConnectResponse(encodeConnectResponse(response)), response);
    }
  });

  const bad: [string, string][] = [
    ['not JSON', '{'],
    ['an array', '[]'],
    ['no version', '{"ok":true}'],
    ['version 2', '{"version":2,"ok":true}'],
    ['no ok', '{"version":1}'],
    ['ok as a string', '{"version":1,"ok":"true"}'],
    ['error as a number', '{"version":1,"ok":false,"error":1}'],
    ['listener_id as an object', '{"version":1,"ok":true,"listener_id":{}}'],
    ['an oversized response', `{"version":1,"ok":false,"error":"${'e'.repeat(5000)}"}`],
  ];
  for (const [name, data] of bad) {
    it(`throws on ${name}`, () => assert.throws(() => parseConnectResponse(data), EnvelopeError));
  }
});

describe('tunnel ids', () => {
  it('encodes RFC 4648 base32 test vectors without padding', () => {
    const vectors: [string, string][] = [
      ['', ''],
      ['f', 'MY'],
      ['fo', 'MZXQ'],
      ['foo', 'MZXW6'],
      ['foob', 'MZXW6YQ'],
      ['fooba', 'MZXW6YTB'],
      ['foobar', 'MZXW6YTBOI'],
    ];
    for (const [input, output] of vectors) assert.equal(base32NoPadding(Buffer.from(input)), output);
  });

  it('mints 16 characters from 10 random bytes', () => {
    assert.equal(newTunnelId(() => new Uint8Array(10)), 'AAAAAAAAAAAAAAAA');
    assert.equal(newTunnelId(() => new Uint8Array(10).fill(0xff)), '7777777777777777');
    const ids = new Set(Array.from({ length: 200 }, () => newTunnelId()));
    assert.equal(ids.size, 200);
    for (const id of ids) assert.ok(isTunnelId(id), id);
    assert.ok(!isTunnelId('AAAAAAAAAAAAAAA1'));
    assert.ok(!isTunnelId('AAAAAAAAAAAAAAA'));
  });
});
