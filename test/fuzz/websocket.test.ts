/**
 * Fuzz targets: the WebSocket frame decoder and encoder, close payloads, and the handshake checks
 * (src/protocol/websocket-frame.ts, websocket-handshake.ts, src/websocket/server-handshake.ts).
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import {
  decodeClosePayload,
  encodeClosePayload,
  encodeFrame,
  FrameDecoder,
  isValidWireCloseCode,
  Opcode,
  WebSocketProtocolError,
  type FrameHandler,
  type Masking,
} from '../../src/protocol/websocket-frame.js';
import { computeAcceptKey, isToken, isValidWebSocketKey, parseProtocolList } from '../../src/protocol/websocket-handshake.js';
import { checkUpgradeRequest } from '../../src/websocket/server-handshake.js';
import { bytes, cuts, fc, fuzz, onlyThrows, split, text } from './fuzz-kit.js';

interface Decoded {
  events: string[];
  /** Data payload bytes as one buffer per frame. */
  payloads: Buffer[];
  error?: string;
}

/** Decodes `chunks`, recording every event; payload pieces of one frame are joined. */
function decode(chunks: Buffer[], expectMasked: boolean, maxFrameLength?: number): Decoded {
  const out: Decoded = { events: [], payloads: [] };
  let current: Buffer[] = [];
  const handler: FrameHandler = {
    onDataFrameStart: (h) => {
      out.events.push(`start ${h.opcode} ${h.fin} ${h.length}`);
      current = [];
    },
    onDataPayload: (chunk) => current.push(Buffer.from(chunk)),
    onDataFrameEnd: (h) => {
      out.events.push(`end ${h.opcode}`);
      out.payloads.push(Buffer.concat(current));
    },
    onControlFrame: (opcode, payload) => out.events.push(`control ${opcode} ${payload.toString('hex')}`),
  };
  const decoder = new FrameDecoder(handler, { expectMasked, ...(maxFrameLength !== undefined && { maxFrameLength }) });
  for (const chunk of chunks) {
    const failed = onlyThrows(() => {
      decoder.push(chunk);
      return true;
    }, WebSocketProtocolError);
    if (!failed) {
      out.error = 'protocol error';
      // A failed decoder refuses everything after, with the same typed error.
      onlyThrows(() => decoder.push(Buffer.from([0x81])), WebSocketProtocolError);
      break;
    }
  }
  return out;
}

/** What the frames say, independent of how the payload was cut into callbacks. */
function summary(d: Decoded): string {
  return JSON.stringify({ events: d.events, payloads: d.payloads.map((p) => p.toString('hex')), error: d.error });
}

const frameArbitrary = fc.record({
  opcode: fc.constantFrom(Opcode.Text, Opcode.Binary, Opcode.Ping, Opcode.Pong, Opcode.Close),
  fin: fc.boolean(),
  payload: fc.oneof(fc.uint8Array({ maxLength: 125 }), fc.uint8Array({ minLength: 126, maxLength: 70_000 })),
});

describe('fuzz: WebSocket frames', () => {
  it('arbitrary bytes in any chunking: only WebSocketProtocolError, and every chunking decodes the same', () => {
    fuzz(fc.tuple(bytes, cuts, fc.boolean(), fc.option(fc.nat({ max: 300 }), { nil: undefined })), ([input, at, masked, max]) => {
      const whole = decode([Buffer.from(input)], masked, max);
      const pieces = decode(split(input, at), masked, max);
      assert.equal(summary(pieces), summary(whole));
    });
  });

  it('frames built by encodeFrame decode to the same frames, masked or not, in any chunking', () => {
    fuzz(fc.tuple(fc.array(frameArbitrary, { maxLength: 6 }), cuts, fc.constantFrom<Masking>('none', 'random', 'zero')), ([frames, at, masking]) => {
      // A valid sequence: control frames are final and short; data frames continue a message.
      const wire: Buffer[] = [];
      const expected: string[] = [];
      let inMessage = false;
      for (const f of frames) {
        if (f.opcode >= 0x8) {
          const payload = Buffer.from(f.payload.subarray(0, 125));
          wire.push(...encodeFrame(true, f.opcode, payload, masking));
          expected.push(`control ${f.opcode} ${payload.toString('hex')}`);
          continue;
        }
        const opcode = inMessage ? Opcode.Continuation : f.opcode;
        wire.push(...encodeFrame(f.fin, opcode, Buffer.from(f.payload), masking));
        expected.push(`start ${opcode} ${f.fin} ${f.payload.length}`, `end ${opcode}`);
        inMessage = !f.fin;
      }
      const decoded = decode(split(Buffer.concat(wire), at), masking !== 'none');
      assert.equal(decoded.error, undefined);
      assert.deepEqual(decoded.events, expected);
      const dataPayloads = frames.filter((f) => f.opcode < 0x8).map((f) => Buffer.from(f.payload).toString('hex'));
      assert.deepEqual(decoded.payloads.map((p) => p.toString('hex')), dataPayloads);
    });
  });

  it('close payloads: decode throws only WebSocketProtocolError; encode then decode keeps code and reason', () => {
    fuzz(fc.uint8Array({ maxLength: 125 }), (payload) => {
      onlyThrows(() => decodeClosePayload(Buffer.from(payload)), WebSocketProtocolError);
    });
    fuzz(fc.tuple(fc.integer({ min: 1000, max: 4999 }).filter(isValidWireCloseCode), fc.string({ maxLength: 200 })), ([code, reason]) => {
      const decoded = decodeClosePayload(encodeClosePayload(code, reason));
      assert.equal(decoded.code, code);
      assert.ok(Buffer.from(reason, 'utf8').toString('utf8').startsWith(decoded.reason.replace(/\uFFFD+$/, '')), 'the reason is a prefix of what was sent');
      assert.ok(encodeClosePayload(code, reason).length <= 125);
    });
  });
});

describe('fuzz: WebSocket handshake checks', () => {
  it('key, protocol list and token checks never throw on any text', () => {
    fuzz(text, (value) => {
      const valid = isValidWebSocketKey(value);
      if (valid) assert.equal(Buffer.from(value, 'base64').length, 16);
      for (const protocol of parseProtocolList(value)) assert.equal(protocol, protocol.trim());
      isToken(value);
      assert.equal(computeAcceptKey(value).length, 28);
    });
  });

  it('checkUpgradeRequest answers a problem or undefined for any method and headers, never throws', () => {
    const header = fc.option(fc.oneof(text, fc.constantFrom('websocket', 'WebSocket', '13', 'dGhlIHNhbXBsZSBub25jZQ==')), { nil: undefined });
    fuzz(fc.record({ method: fc.option(fc.constantFrom('GET', 'POST', 'get', ''), { nil: undefined }), upgrade: header, version: header, key: header }), (r) => {
      const req = { method: r.method, headers: { upgrade: r.upgrade, 'sec-websocket-version': r.version, 'sec-websocket-key': r.key } } as unknown as IncomingMessage;
      const problem = onlyThrows(() => checkUpgradeRequest(req));
      assert.ok(problem === undefined || typeof problem.reason === 'string');
      if (problem === undefined) assert.ok(r.method === 'GET' && r.version === '13' && r.upgrade?.toLowerCase() === 'websocket' && isValidWebSocketKey(r.key));
    });
  });
});
