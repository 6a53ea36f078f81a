import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DatagramDecoder,
  DatagramFramingError,
  encodeDatagram,
  encodeDatagramHeader,
  MAX_DATAGRAM_LENGTH,
} from '../../src/protocol/udp-framing.js';
import { patternBytes, sha256 } from '../helpers/data.js';

describe('UDP framing: encoding', () => {
  it('prefixes the payload with its length, big-endian', () => {
    assert.equal(encodeDatagram(Buffer.from('hello')).toString('hex'), '0005' + Buffer.from('hello').toString('hex'));
    assert.equal(encodeDatagramHeader(300).toString('hex'), '012c');
    assert.equal(encodeDatagram(Buffer.alloc(0)).toString('hex'), '0000');
  });

  it('frames the largest datagram and refuses a larger one', () => {
    const max = encodeDatagram(Buffer.alloc(MAX_DATAGRAM_LENGTH, 7));
    assert.equal(max.length, MAX_DATAGRAM_LENGTH + 2);
    assert.equal(max.readUInt16BE(0), 65535);
    assert.throws(() => encodeDatagram(Buffer.alloc(MAX_DATAGRAM_LENGTH + 1)), DatagramFramingError);
    assert.throws(() => encodeDatagramHeader(-1), DatagramFramingError);
  });
});

describe('UDP framing: decoding', () => {
  const datagrams = [Buffer.from('a'), Buffer.alloc(0), patternBytes(300, 3), Buffer.from([0, 1, 0, 2]), patternBytes(1000, 4)];
  const stream = Buffer.concat(datagrams.map(encodeDatagram));

  it('decodes several datagrams delivered in one chunk, including an empty one', () => {
    const decoder = new DatagramDecoder();
    assert.deepEqual(decoder.push(stream), datagrams);
    assert.equal(decoder.pendingBytes, 0);
  });

  it('decodes the same datagrams when the stream is split at every byte position', () => {
    for (let at = 0; at <= stream.length; at++) {
      const decoder = new DatagramDecoder();
      const out = [...decoder.push(stream.subarray(0, at)), ...decoder.push(stream.subarray(at))];
      assert.deepEqual(out, datagrams, `split at ${at}`);
      assert.equal(decoder.pendingBytes, 0);
    }
  });

  it('decodes the same datagrams when split at every pair of positions (three chunks)', () => {
    const small = Buffer.concat([Buffer.from('xy'), Buffer.alloc(0), Buffer.from('z')].map(encodeDatagram));
    const expected = [Buffer.from('xy'), Buffer.alloc(0), Buffer.from('z')];
    for (let i = 0; i <= small.length; i++) {
      for (let j = i; j <= small.length; j++) {
        const decoder = new DatagramDecoder();
        const out = [small.subarray(0, i), small.subarray(i, j), small.subarray(j)].flatMap((c) => decoder.push(c));
        assert.deepEqual(out, expected, `splits at ${i}, ${j}`);
      }
    }
  });

  it('decodes one byte at a time and reports what it holds between datagrams', () => {
    const decoder = new DatagramDecoder();
    const out: Buffer[] = [];
    const one = encodeDatagram(Buffer.from('abc'));
    for (let i = 0; i < one.length; i++) {
      out.push(...decoder.push(one.subarray(i, i + 1)));
      assert.equal(decoder.pendingBytes, i + 1 === one.length ? 0 : i + 1);
    }
    assert.deepEqual(out, [Buffer.from('abc')]);
  });

  it('carries a maximum-size datagram split into uneven chunks intact (length and SHA-256)', () => {
    const payload = patternBytes(MAX_DATAGRAM_LENGTH, 9);
    const framed = encodeDatagram(payload);
    const decoder = new DatagramDecoder();
    const out: Buffer[] = [];
    for (let off = 0, size = 1; off < framed.length; off += size, size = (size * 7) % 5003 + 1) {
      out.push(...decoder.push(framed.subarray(off, off + size)));
    }
    assert.equal(out.length, 1);
    assert.equal(out[0]!.length, payload.length);
    assert.equal(sha256(out[0]!), sha256(payload));
  });

  it('keeps partial payloads safe when the caller reuses its chunk buffer', () => {
    const framed = encodeDatagram(Buffer.from('hello world'));
    const decoder = new DatagramDecoder();
    const chunk = Buffer.from(framed.subarray(0, 6));
    assert.deepEqual(decoder.push(chunk), []);
    chunk.fill(0x21);
    assert.deepEqual(decoder.push(framed.subarray(6)), [Buffer.from('hello world')]);
  });

  it('accepts Uint8Array chunks', () => {
    const framed = encodeDatagram(Buffer.from('hi'));
    const decoder = new DatagramDecoder();
    assert.deepEqual(decoder.push(new Uint8Array(framed)), [Buffer.from('hi')]);
  });
});
