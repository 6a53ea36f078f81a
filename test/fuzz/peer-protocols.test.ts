/**
 * Fuzz targets: the peer protocols inside relayed streams: azbridge preamble and reply
 * (src/protocol/azbridge-preamble.ts), aztunnel envelope and response (aztunnel-envelope.ts), UDP
 * datagram framing (udp-framing.ts) and the SOCKS5 server handshake (src/tunnel/socks5-protocol.ts).
 */
import assert from 'node:assert/strict';
import { isIPv6 } from 'node:net';
import { describe, it } from 'node:test';
import {
  encodePreamble,
  encodePreambleReply,
  PreambleDecoder,
  PreambleError,
  PreambleMode,
  PreambleReplyDecoder,
  type DecodeStep,
  type PreambleReply,
} from '../../src/protocol/azbridge-preamble.js';
import {
  encodeConnectEnvelope,
  encodeConnectResponse,
  EnvelopeError,
  formatTarget,
  parseConnectEnvelope,
  parseConnectResponse,
  parseTarget,
  TargetError,
} from '../../src/protocol/aztunnel-envelope.js';
import { DatagramDecoder, DatagramFramingError, encodeDatagram, MAX_DATAGRAM_LENGTH } from '../../src/protocol/udp-framing.js';
import { encodeSocks5Reply, formatIPv6, parseIPv6, Socks5ServerHandshake, type Socks5Action } from '../../src/tunnel/socks5-protocol.js';
import { bytes, cuts, fc, fuzz, onlyThrows, split, text, trickyKeys } from './fuzz-kit.js';

/** Feeds chunks until the decoder completes; the value and the bytes after it. */
function feed<T>(push: (chunk: Buffer) => DecodeStep<T>, chunks: Buffer[]): { value?: T; rest: Buffer } {
  const rest: Buffer[] = [];
  let value: T | undefined;
  for (const chunk of chunks) {
    if (value !== undefined) {
      rest.push(chunk);
      continue;
    }
    const step = push(chunk);
    if (step.status === 'complete') {
      value = step.value;
      rest.push(step.rest);
    }
  }
  return { ...(value !== undefined && { value }), rest: Buffer.concat(rest) };
}

const view = (v: unknown) => JSON.stringify(v, (_k, x: unknown) => (x && typeof x === 'object' && (x as { type?: string }).type === 'Buffer' ? Buffer.from((x as { data: number[] }).data).toString('hex') : x));

const portName = fc.string({ minLength: 1, maxLength: 80 }).filter((n) => Buffer.byteLength(n) <= 255);
const reply: fc.Arbitrary<PreambleReply> = fc.oneof(
  fc.constantFrom(PreambleMode.Stream, PreambleMode.Datagram).map((mode) => ({ kind: 'accepted', mode }) as PreambleReply),
  fc.constantFrom<PreambleReply>({ kind: 'unsupported-version' }, { kind: 'target-is-datagram' }, { kind: 'target-is-stream' }),
  fc.tuple(fc.constantFrom('unknown-port-name', 'target-unreachable'), fc.string({ maxLength: 100 }).filter((r) => Buffer.byteLength(r) <= 255)).map(([kind, reason]) => ({ kind, reason }) as PreambleReply),
);

describe('fuzz: azbridge preamble and reply', () => {
  it('any bytes in any chunking: the decoders never throw, and every chunking decodes the same', () => {
    fuzz(fc.tuple(bytes, cuts), ([input, at]) => {
      const whole = onlyThrows(() => feed((c) => new PreambleDecoder().push(c), [Buffer.from(input)]));
      const one = new PreambleDecoder();
      const pieces = onlyThrows(() => feed((c) => one.push(c), split(input, at)));
      assert.equal(view(pieces), view(whole));
      const wholeReply = new PreambleReplyDecoder();
      const replyPieces = new PreambleReplyDecoder();
      assert.equal(view(feed((c) => replyPieces.push(c), split(input, at))), view(feed((c) => wholeReply.push(c), [Buffer.from(input)])));
      onlyThrows(() => replyPieces.end());
    });
  });

  it('encodePreamble / encodePreambleReply round trip in any chunking, payload bytes kept', () => {
    fuzz(fc.tuple(fc.constantFrom(PreambleMode.Stream, PreambleMode.Datagram), portName, fc.uint8Array({ maxLength: 40 }), cuts), ([mode, name, payload, at]) => {
      const decoder = new PreambleDecoder();
      const got = feed((c) => decoder.push(c), split(Buffer.concat([encodePreamble({ mode, portName: name }), payload]), at));
      assert.deepEqual(got.value, { ok: true, preamble: { mode, portName: name } });
      assert.equal(got.rest.toString('hex'), Buffer.from(payload).toString('hex'));
      onlyThrows(() => decoder.push(Buffer.alloc(1)), PreambleError);
    });
    fuzz(fc.tuple(reply, fc.uint8Array({ maxLength: 20 }), cuts), ([r, payload, at]) => {
      const decoder = new PreambleReplyDecoder();
      const got = feed((c) => decoder.push(c), split(Buffer.concat([encodePreambleReply(r), payload]), at));
      assert.deepEqual(got.value, r);
      assert.equal(got.rest.toString('hex'), Buffer.from(payload).toString('hex'));
    });
  });

  it('encodePreamble refuses what it cannot carry with PreambleError only', () => {
    fuzz(fc.tuple(fc.integer({ min: -1, max: 3 }), fc.string({ maxLength: 300 })), ([mode, name]) => {
      onlyThrows(() => encodePreamble({ mode: mode as PreambleMode, portName: name }), PreambleError);
    });
  });
});

const envelopeJson = fc.oneof(
  text,
  fc.json({ maxDepth: 3 }),
  fc.dictionary(fc.oneof(fc.constantFrom('version', 'target', 'metadata', 'bridge_id'), trickyKeys), fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant(1), text), { maxKeys: 5 }).map((v) => JSON.stringify(v)),
);
const host = fc.oneof(fc.domain(), fc.ipV4(), fc.ipV6(), text);

describe('fuzz: aztunnel envelope and response', () => {
  it('any text or bytes: parseConnectEnvelope answers ok or a rejection, never throws', () => {
    fuzz(fc.oneof(envelopeJson, bytes), (input) => {
      const result = onlyThrows(() => parseConnectEnvelope(input));
      assert.ok(result);
      if (result.ok) assert.equal(formatTarget(result.address.host, result.address.port).length > 0, true);
    });
  });

  it('any text or bytes: parseConnectResponse answers a response or throws EnvelopeError; parseTarget only TargetError', () => {
    fuzz(fc.oneof(envelopeJson, bytes), (input) => {
      onlyThrows(() => parseConnectResponse(input), EnvelopeError);
    });
    fuzz(fc.oneof(text, fc.tuple(host, fc.integer({ min: -1, max: 70000 })).map(([h, p]) => `${h}:${p}`)), (input) => {
      const target = onlyThrows(() => parseTarget(input), TargetError);
      if (target) assert.deepEqual(parseTarget(formatTarget(target.host, target.port)), target);
    });
  });

  it('envelope and response round trip', () => {
    fuzz(fc.record({ host: fc.oneof(fc.domain(), fc.ipV4(), fc.ipV6()), port: fc.integer({ min: 1, max: 65535 }), metadata: fc.dictionary(fc.oneof(fc.string({ maxLength: 10 }), trickyKeys), fc.string({ maxLength: 10 }), { maxKeys: 3 }), bridgeId: fc.stringMatching(/^[A-Z2-7]{0,16}$/) }), (e) => {
      const target = formatTarget(e.host, e.port);
      const envelope = { target, metadata: JSON.parse(JSON.stringify(e.metadata)) as Record<string, string>, bridgeId: e.bridgeId };
      const parsed = onlyThrows(() => parseConnectEnvelope(encodeConnectEnvelope(envelope)), TargetError);
      if (!parsed) return; // fc.domain() names that hostProblem rightly refuses (a numeric last label)
      assert.ok(parsed.ok, JSON.stringify(parsed));
      assert.equal(parsed.envelope.target, target);
      assert.deepEqual(parsed.envelope.metadata ?? {}, envelope.metadata);
      assert.equal(parsed.envelope.bridgeId ?? '', e.bridgeId);
    });
    fuzz(fc.record({ ok: fc.boolean(), error: fc.string({ maxLength: 20 }), code: fc.string({ maxLength: 20 }), listenerId: fc.string({ maxLength: 20 }) }), (r) => {
      const expected = Object.fromEntries(Object.entries(r).filter(([, v]) => v !== ''));
      assert.deepEqual(parseConnectResponse(encodeConnectResponse(r)), expected);
    });
  });
});

describe('fuzz: UDP datagram framing', () => {
  it('datagrams round trip in any chunking; held bytes stay below one datagram', () => {
    fuzz(fc.tuple(fc.array(fc.oneof(fc.uint8Array({ maxLength: 30 }), fc.uint8Array({ minLength: 60_000, maxLength: MAX_DATAGRAM_LENGTH })), { maxLength: 5 }), cuts), ([datagrams, at]) => {
      const decoder = new DatagramDecoder();
      const out: string[] = [];
      for (const chunk of split(Buffer.concat(datagrams.map((d) => encodeDatagram(d))), at)) {
        for (const d of decoder.push(chunk)) out.push(Buffer.from(d).toString('hex'));
        assert.ok(decoder.pendingBytes <= MAX_DATAGRAM_LENGTH + 2);
      }
      assert.deepEqual(out, datagrams.map((d) => Buffer.from(d).toString('hex')));
      assert.equal(decoder.pendingBytes, 0);
    });
  });

  it('any bytes in any chunking decode the same datagrams; encodeDatagram refuses only with DatagramFramingError', () => {
    fuzz(fc.tuple(bytes, cuts), ([input, at]) => {
      const whole = new DatagramDecoder().push(Buffer.from(input)).map((d) => d.toString('hex'));
      const decoder = new DatagramDecoder();
      const pieces = split(input, at).flatMap((c) => decoder.push(c).map((d) => d.toString('hex')));
      assert.deepEqual(pieces, whole);
    });
    fuzz(fc.integer({ min: 65530, max: 65540 }), (length) => {
      onlyThrows(() => encodeDatagram(Buffer.alloc(length)), DatagramFramingError);
    });
  });
});

/** The actions of a SOCKS5 handshake fed `chunks`, as text (connect leftovers joined with later bytes). */
function socks(chunks: Buffer[], withAuth: boolean): string {
  const handshake = new Socks5ServerHandshake(withAuth ? { checkCredentials: (u, p) => u.toString() === 'user' && p.toString() === 'pass' } : {});
  const actions: Socks5Action[] = [];
  let after = Buffer.alloc(0);
  for (const chunk of chunks) {
    if (handshake.finished) {
      after = Buffer.concat([after, chunk]);
      continue;
    }
    actions.push(...(onlyThrows(() => handshake.feed(chunk)) ?? []));
  }
  const connect = actions.find((a) => a.type === 'connect');
  if (connect?.type === 'connect') after = Buffer.concat([connect.leftover, after]);
  const merged: string[] = [];
  let written = '';
  for (const a of actions) {
    if (a.type === 'write') written += a.bytes.toString('hex');
    else merged.push(view(a.type === 'connect' ? { ...a, leftover: undefined } : a));
  }
  return JSON.stringify({ written, merged, after: connect ? after.toString('hex') : '' });
}

const socksRequest = fc.tuple(
  fc.constantFrom(1, 3, 4, 9),
  fc.oneof(fc.ipV4(), fc.ipV6(), fc.domain(), fc.string({ maxLength: 20 })),
  fc.integer({ min: 0, max: 65535 }),
  fc.uint8Array({ maxLength: 10 }),
).map(([atyp, h, port, extra]) => {
  let address: Buffer;
  if (atyp === 1) address = Buffer.from(h.split('.').slice(0, 4).map((x) => Number(x) & 255).concat([0, 0, 0, 0]).slice(0, 4));
  // parseIPv6 takes checked literals only (its callers test isIP first); any other text is 16 zero bytes.
  else if (atyp === 4) address = isIPv6(h) ? parseIPv6(h) : Buffer.alloc(16);
  else address = Buffer.concat([Buffer.from([Math.min(255, Buffer.byteLength(h, 'latin1'))]), Buffer.from(h, 'latin1').subarray(0, 255)]);
  const p = Buffer.alloc(2);
  p.writeUInt16BE(port);
  return Buffer.concat([Buffer.from([5, 1, 0, atyp]), address, p, extra]);
});

describe('fuzz: SOCKS5 server handshake', () => {
  it('any bytes, or a greeting, login and request, in any chunking: never throws, and every chunking acts the same', () => {
    const greeting = fc.constantFrom(Buffer.from([5, 1, 0]), Buffer.from([5, 2, 0, 2]), Buffer.from([5, 1, 2]));
    const login = fc.constantFrom(Buffer.from([1, 4, ...Buffer.from('user'), 4, ...Buffer.from('pass')]), Buffer.from([1, 1, 0x41, 0]), Buffer.alloc(0));
    const session = fc.oneof(bytes.map((b) => Buffer.from(b)), fc.tuple(greeting, login, socksRequest).map((parts) => Buffer.concat(parts)));
    fuzz(fc.tuple(session, cuts, fc.boolean()), ([input, at, withAuth]) => {
      assert.equal(socks(split(input, at), withAuth), socks([input], withAuth));
    });
  });

  it('replies for any bound address are well formed; IPv6 text and bytes round trip', () => {
    fuzz(fc.tuple(fc.oneof(fc.ipV4(), fc.ipV6(), fc.domain(), text), fc.integer({ min: -1, max: 70000 })), ([h, port]) => {
      const reply = onlyThrows(() => encodeSocks5Reply(0, { host: h, port }));
      assert.ok(reply && reply[0] === 5 && reply.length >= 7 && reply.length <= 3 + 2 + 255 + 2);
    });
    fuzz(fc.uint8Array({ minLength: 16, maxLength: 16 }), (address) => {
      assert.equal(parseIPv6(formatIPv6(address)).toString('hex'), Buffer.from(address).toString('hex'));
    });
  });
});
