/**
 * The PROXY protocol parser (src/relay/proxy-protocol.ts): v1 text and v2 binary headers as
 * haproxy writes them, split across any number of chunks, LOCAL and UNKNOWN, TLVs (the SSL one
 * read, others skipped, malformed ones ignored), and malformed input refused as early as its
 * bytes allow. The property checks that no input escapes as an exception and that every header
 * the encoder writes comes back, however it is cut.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseProxyHeader, PROXY_V1_MAX_BYTES, PROXY_V2_MAX_BYTES, PROXY_V2_SIGNATURE } from '../../src/relay/proxy-protocol.js';
import { fc, fuzz } from '../fuzz/fuzz-kit.js';
import { proxyV1, proxyV2, tlv } from '../helpers/proxy-header.js';

const v4 = { source: { address: '192.0.2.7', port: 40123 }, destination: { address: '198.51.100.1', port: 443 } };
const v6 = { source: { address: '2001:db8::7', port: 5000 }, destination: { address: '2001:db8::1', port: 443 } };
const mapped = { source: { address: '::ffff:127.0.0.2', port: 1234 }, destination: { address: '::ffff:127.0.0.1', port: 443 } };

/** Feeds `bytes` in prefixes ending at `cuts`, as a socket would deliver them; returns the first final answer. */
function feed(bytes: Buffer, cuts: number[]) {
  for (const end of [...cuts.filter((c) => c > 0 && c < bytes.length).sort((a, b) => a - b), bytes.length]) {
    const result = parseProxyHeader(bytes.subarray(0, end));
    if (result.state !== 'incomplete') return result;
  }
  return parseProxyHeader(bytes);
}

function complete(bytes: Buffer) {
  const result = parseProxyHeader(bytes);
  assert.equal(result.state, 'complete', JSON.stringify(result));
  return result as Extract<typeof result, { state: 'complete' }>;
}

function invalid(bytes: Buffer): string {
  const result = parseProxyHeader(bytes);
  assert.equal(result.state, 'invalid', `expected invalid for ${JSON.stringify(bytes.toString('latin1'))}: ${JSON.stringify(result)}`);
  return (result as { reason: string }).reason;
}

describe('PROXY protocol v1', () => {
  it('reads TCP4 and TCP6 lines and says where the header ends', () => {
    const line = proxyV1(v4);
    const r = complete(Buffer.concat([line, Buffer.from('GET / HTTP/1.1\r\n')]));
    assert.deepEqual(r.header, { version: 1, ...v4 });
    assert.equal(r.length, line.length);
    assert.deepEqual(complete(proxyV1(v6)).header, { version: 1, ...v6 });
    assert.deepEqual(complete(proxyV1(mapped)).header.source, mapped.source, 'IPv4-mapped IPv6 is kept as written');
  });

  it('UNKNOWN means: use the socket address', () => {
    assert.deepEqual(complete(proxyV1()).header, { version: 1 });
    assert.deepEqual(complete(Buffer.from('PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n')).header, { version: 1 });
  });

  it('is incomplete until the CRLF, whichever chunk it arrives in', () => {
    const line = proxyV1(v4);
    for (let i = 1; i < line.length; i++) assert.equal(parseProxyHeader(line.subarray(0, i)).state, 'incomplete', `prefix of ${i} bytes`);
  });

  it('refuses malformed lines', () => {
    const cases = [
      'PROXY TCP4 192.0.2.7 198.51.100.1 40123\r\n',
      'PROXY TCP4 192.0.2.7 198.51.100.1 40123 443 extra\r\n',
      'PROXY TCP5 192.0.2.7 198.51.100.1 40123 443\r\n',
      'PROXY TCP4 2001:db8::1 198.51.100.1 40123 443\r\n',
      'PROXY TCP6 192.0.2.7 2001:db8::1 40123 443\r\n',
      'PROXY TCP4 192.0.2.7 198.51.100.1 70000 443\r\n',
      'PROXY TCP4 192.0.2.7 198.51.100.1 0443 443\r\n',
      'PROXY TCP4 192.0.2.7 198.51.100.1 -1 443\r\n',
      'PROXY TCP4 192.0.2.7  198.51.100.1 1 443\r\n',
      'PROXY TCP4 192.0.2.7 198.51.100.1 1 443\n',
      'proxy TCP4 192.0.2.7 198.51.100.1 1 443\r\n',
    ];
    for (const text of cases) invalid(Buffer.from(text, 'latin1'));
  });

  it('refuses a line without CRLF within 107 bytes, and control bytes at once', () => {
    assert.match(invalid(Buffer.from(`PROXY TCP4 ${'1'.repeat(PROXY_V1_MAX_BYTES)}`)), /longer than 107/);
    assert.match(invalid(Buffer.from('PROXY TCP4 1.2.3.4\0')), /control character/);
  });

  it('refuses anything that is not a PROXY header from its first differing byte', () => {
    assert.match(invalid(Buffer.from('GET / HTTP/1.1\r\n')), /did not start with a PROXY protocol header/);
    assert.match(invalid(Buffer.from([0x16, 0x03, 0x01])), /did not start/, 'a TLS ClientHello');
    assert.equal(parseProxyHeader(Buffer.from('PRO')).state, 'incomplete');
    invalid(Buffer.from('PROX!'));
    assert.equal(parseProxyHeader(Buffer.alloc(0)).state, 'incomplete');
  });
});

describe('PROXY protocol v2', () => {
  it('reads PROXY over TCP/IPv4 and TCP/IPv6 (also IPv4-mapped) and where the header ends', () => {
    const header = proxyV2(v4);
    const r = complete(Buffer.concat([header, Buffer.from([0x16, 0x03, 0x01])]));
    assert.deepEqual(r.header, { version: 2, ...v4 });
    assert.equal(r.length, header.length);
    assert.deepEqual(complete(proxyV2(v6)).header, { version: 2, ...v6 });
    assert.deepEqual(complete(proxyV2(mapped)).header.source, mapped.source);
    assert.deepEqual(complete(proxyV2({ source: { address: '2001:db8:0:0:1:0:0:1', port: 1 }, destination: v6.destination })).header.source, { address: '2001:db8::1:0:0:1', port: 1 }, 'RFC 5952 text');
  });

  it('LOCAL (health checks) carries no client: the socket address applies', () => {
    assert.deepEqual(complete(proxyV2()).header, { version: 2 });
    const withTlvs = proxyV2(undefined, tlv(0x04, Buffer.alloc(5)));
    assert.equal(complete(withTlvs).length, withTlvs.length);
  });

  it('UNSPEC, UNIX and UDP connections keep the socket address', () => {
    const unspec = Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x21, 0x00, 0, 0])]);
    assert.deepEqual(complete(unspec).header, { version: 2 });
    const unix = Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x21, 0x31, 0, 216]), Buffer.alloc(216)]);
    assert.deepEqual(complete(unix).header, { version: 2 });
    const udp = Buffer.from(proxyV2(v4));
    udp[13] = 0x12;
    assert.deepEqual(complete(udp).header, { version: 2 });
  });

  it('reads PP2_TYPE_SSL, skips other TLVs and ignores malformed ones', () => {
    const ssl = (flags: number) => tlv(0x20, Buffer.from([flags, 0, 0, 0, 0]));
    assert.equal(complete(proxyV2(v4, Buffer.concat([tlv(0x01, Buffer.from('h2')), ssl(0x01)]))).header.clientTls, true);
    assert.equal(complete(proxyV2(v4, ssl(0x00))).header.clientTls, undefined, 'SSL TLV without PP2_CLIENT_SSL');
    const truncated = Buffer.from([0x20, 0x00, 0x09, 0x01]);
    const r = complete(proxyV2(v4, truncated));
    assert.deepEqual(r.header, { version: 2, ...v4 }, 'a TLV running past the header is ignored, the addresses stay');
  });

  it('is incomplete until its declared length has arrived', () => {
    const header = proxyV2(v6, tlv(0x04, Buffer.alloc(40)));
    for (let i = 1; i < header.length; i++) assert.equal(parseProxyHeader(header.subarray(0, i)).state, 'incomplete', `prefix of ${i} bytes`);
  });

  it('refuses wrong versions, commands, families, short bodies and oversized headers', () => {
    const bad = (patch: (b: Buffer) => void) => {
      const b = Buffer.from(proxyV2(v4));
      patch(b);
      return invalid(b);
    };
    assert.match(bad((b) => (b[12] = 0x11)), /version 1/);
    assert.match(invalid(Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x31])])), /version 3/, 'refused from byte 13 on');
    assert.match(bad((b) => (b[12] = 0x22)), /unknown command/);
    assert.match(bad((b) => (b[13] = 0x41)), /unknown address family/);
    assert.match(bad((b) => b.writeUInt16BE(4, 14)), /too short/);
    const huge = Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x21, 0x11]), Buffer.from([0xff, 0xff])]);
    assert.match(invalid(huge), new RegExp(`at most ${PROXY_V2_MAX_BYTES}`), 'refused from its length field, before the body');
  });
});

describe('PROXY protocol: properties', () => {
  const address4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
  const address6 = fc.ipV6();
  const port = fc.nat(65535);
  const connection = fc.oneof(
    fc.record({ source: fc.record({ address: address4, port }), destination: fc.record({ address: address4, port }) }),
    fc.record({ source: fc.record({ address: address6, port }), destination: fc.record({ address: address6, port }) }),
  );

  it('every header comes back whole however it is cut, with the bytes after it untouched', () => {
    fuzz(fc.tuple(connection, fc.boolean(), fc.array(fc.nat(200), { maxLength: 8 }), fc.uint8Array({ maxLength: 32 })), ([c, binary, cuts, tail]) => {
      const header = binary ? proxyV2(c) : proxyV1(c);
      const result = feed(Buffer.concat([header, Buffer.from(tail)]), cuts);
      assert.equal(result.state, 'complete', JSON.stringify(result));
      if (result.state !== 'complete') return;
      assert.equal(result.length, header.length);
      // Addresses come back in canonical text: compare them as the parser formats them.
      assert.equal(result.header.source?.port, c.source.port);
      assert.equal(result.header.destination?.port, c.destination.port);
      assert.equal(sameAddress(result.header.source!.address, c.source.address), true, `${result.header.source!.address} vs ${c.source.address}`);
    });
  });

  it('arbitrary bytes never throw, and anything accepted fits the size bounds', () => {
    const prefixed = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from(b)])),
      fc.string({ maxLength: 150 }).map((s) => Buffer.from(`PROXY ${s}`, 'latin1')),
    );
    fuzz(prefixed, (bytes) => {
      const result = parseProxyHeader(bytes);
      if (result.state === 'complete') assert.ok(result.length <= Math.max(PROXY_V1_MAX_BYTES, PROXY_V2_MAX_BYTES) && result.length <= bytes.length);
    });
  });
});

function sameAddress(a: string, b: string): boolean {
  const canonical = (x: string) => (x.includes(':') ? new URL(`http://[${x}]/`).hostname : x);
  return canonical(a) === canonical(b);
}
