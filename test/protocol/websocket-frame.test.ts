import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CloseCode,
  decodeClosePayload,
  encodeClosePayload,
  encodeFrame,
  FrameDecoder,
  type FrameHeader,
  Opcode,
  WebSocketProtocolError,
} from '../../src/protocol/websocket-frame.js';
import { patternBytes, sha256 } from '../helpers/data.js';

interface Collected {
  messages: { opcode: number; data: Buffer }[];
  controls: { opcode: number; data: Buffer }[];
}

function collector(expectMasked: boolean, maxFrameLength?: number): { decoder: FrameDecoder; out: Collected } {
  const out: Collected = { messages: [], controls: [] };
  let current: Buffer[] = [];
  let opcode = 0;
  const decoder = new FrameDecoder(
    {
      onDataFrameStart(h: FrameHeader) {
        if (h.opcode !== Opcode.Continuation) opcode = h.opcode;
      },
      onDataPayload(chunk) {
        current.push(Buffer.from(chunk));
      },
      onDataFrameEnd(h) {
        if (h.fin) {
          out.messages.push({ opcode, data: Buffer.concat(current) });
          current = [];
        }
      },
      onControlFrame(op, data) {
        out.controls.push({ opcode: op, data: Buffer.from(data) });
      },
    },
    { expectMasked, maxFrameLength },
  );
  return { decoder, out };
}

describe('FrameDecoder', () => {
  it('a zero-key frame carries the MASK bit, a key of four zero bytes and the payload unchanged', () => {
    const payload = patternBytes(70_000, 5);
    const parts = encodeFrame(true, Opcode.Binary, payload, 'zero');
    assert.equal(parts.length, 2, 'header and payload stay separate (no copy)');
    assert.equal(parts[1], payload);
    assert.deepEqual([...parts[0]!], [0x82, 0x80 | 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70, 0, 0, 0, 0]);
    const { decoder, out } = collector(true);
    decoder.push(Buffer.concat(parts));
    assert.equal(sha256(out.messages[0]!.data), sha256(payload));
    assert.equal(sha256(payload), sha256(patternBytes(70_000, 5)), 'the caller\'s buffer is not touched');
  });

  for (const size of [0, 1, 125, 126, 65535, 65536, 200_000]) {
    it(`round-trips a masked ${size}-byte binary frame fed one split at a time`, () => {
      const payload = patternBytes(size, size);
      const wire = Buffer.concat(encodeFrame(true, Opcode.Binary, payload, 'random'));
      for (const split of [1, 2, 3, 7, 14, Math.max(1, wire.length - 1)]) {
        const { decoder, out } = collector(true);
        for (let off = 0; off < wire.length; off += split) decoder.push(Buffer.from(wire.subarray(off, off + split)));
        assert.equal(out.messages.length, 1);
        assert.equal(out.messages[0]!.data.length, size);
        assert.equal(sha256(out.messages[0]!.data), sha256(payload));
      }
    });
  }

  it('reassembles fragments and keeps control frames between them', () => {
    const wire = Buffer.concat([
      ...encodeFrame(false, Opcode.Text, Buffer.from('hel'), 'none'),
      ...encodeFrame(true, Opcode.Ping, Buffer.from('p'), 'none'),
      ...encodeFrame(true, Opcode.Continuation, Buffer.from('lo'), 'none'),
    ]);
    const { decoder, out } = collector(false);
    decoder.push(wire);
    assert.deepEqual(out.messages.map((m) => [m.opcode, m.data.toString()]), [[Opcode.Text, 'hello']]);
    assert.deepEqual(out.controls.map((c) => [c.opcode, c.data.toString()]), [[Opcode.Ping, 'p']]);
  });

  const bad: [string, Buffer, number][] = [
    ['unmasked client frame', Buffer.from([0x82, 0x01, 0x00]), CloseCode.ProtocolError],
    ['reserved bit', Buffer.from([0xc2, 0x80, 0, 0, 0, 0]), CloseCode.ProtocolError],
    ['unknown opcode', Buffer.from([0x83, 0x80, 0, 0, 0, 0]), CloseCode.ProtocolError],
    ['fragmented ping', Buffer.from([0x09, 0x80, 0, 0, 0, 0]), CloseCode.ProtocolError],
    ['long ping', Buffer.from([0x89, 0xfe, 0x00, 0x7e, 0, 0, 0, 0]), CloseCode.ProtocolError],
    ['orphan continuation', Buffer.from([0x80, 0x80, 0, 0, 0, 0]), CloseCode.ProtocolError],
  ];
  for (const [name, wire, code] of bad) {
    it(`rejects ${name} with close code ${code}`, () => {
      const { decoder } = collector(true);
      assert.throws(() => decoder.push(wire), (err: unknown) => err instanceof WebSocketProtocolError && err.closeCode === code);
      assert.throws(() => decoder.push(Buffer.from([0x82, 0x80, 0, 0, 0, 0])), WebSocketProtocolError);
    });
  }

  it('enforces the frame size limit with 1009', () => {
    const { decoder } = collector(true, 1000);
    const wire = Buffer.concat(encodeFrame(true, Opcode.Binary, Buffer.alloc(1001), 'random'));
    assert.throws(() => decoder.push(wire), (err: unknown) => err instanceof WebSocketProtocolError && err.closeCode === CloseCode.MessageTooBig);
  });

  it('rejects a masked frame from a server', () => {
    const { decoder } = collector(false);
    assert.throws(() => decoder.push(Buffer.concat(encodeFrame(true, Opcode.Binary, Buffer.from('x'), 'random'))), WebSocketProtocolError);
  });
});

describe('close payloads', () => {
  it('round-trips code and reason and truncates long reasons on a character boundary', () => {
    assert.deepEqual(decodeClosePayload(encodeClosePayload(1008, 'token expired')), { code: 1008, reason: 'token expired' });
    const long = encodeClosePayload(1000, 'é'.repeat(100));
    assert.ok(long.length <= 125);
    assert.doesNotThrow(() => new TextDecoder('utf-8', { fatal: true }).decode(long.subarray(2)));
    assert.deepEqual(decodeClosePayload(Buffer.alloc(0)), { code: 1005, reason: '' });
  });

  it('rejects codes that must not appear on the wire', () => {
    for (const code of [999, 1004, 1005, 1006, 1015, 2000, 5000]) {
      const payload = Buffer.alloc(2);
      payload.writeUInt16BE(code);
      assert.throws(() => decodeClosePayload(payload), WebSocketProtocolError, String(code));
    }
  });
});
