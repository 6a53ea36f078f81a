import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  describePreambleReply,
  encodePreamble,
  encodePreambleReply,
  isAcceptedFor,
  MAX_PORT_NAME_BYTES,
  PreambleDecoder,
  type PreambleDecodeValue,
  PreambleError,
  PreambleMode,
  type PreambleReply,
  PreambleReplyDecoder,
  type DecodeStep,
} from '../../src/protocol/azbridge-preamble.js';

/** Feeds `bytes` split at `at` and returns the completed step (asserting earlier pushes were incomplete). */
function decodeSplit<T>(push: (chunk: Buffer) => DecodeStep<T>, bytes: Buffer, at: number): DecodeStep<T> {
  if (at > 0 && at < bytes.length) {
    const first = push(bytes.subarray(0, at));
    if (first.status === 'complete') return first;
    return push(bytes.subarray(at));
  }
  return push(bytes);
}

describe('azbridge preamble: encoding', () => {
  it('writes 01 00 mode len name for a stream port', () => {
    assert.deepEqual(encodePreamble({ mode: PreambleMode.Stream, portName: '16161' }), Buffer.from([1, 0, 0, 5, ...Buffer.from('16161')]));
  });

  it('writes mode 1 for a datagram port such as 3434U', () => {
    assert.deepEqual(encodePreamble({ mode: PreambleMode.Datagram, portName: '3434U' }), Buffer.from('01000105' + Buffer.from('3434U').toString('hex'), 'hex'));
  });

  it('counts the name length in UTF-8 bytes', () => {
    const out = encodePreamble({ mode: 0, portName: 'größe' });
    assert.equal(out[3], Buffer.byteLength('größe'));
    assert.equal(out.subarray(4).toString('utf8'), 'größe');
  });

  it('accepts a 255-byte name and rejects 256 bytes instead of wrapping the length byte', () => {
    assert.equal(encodePreamble({ mode: 0, portName: 'a'.repeat(MAX_PORT_NAME_BYTES) }).length, 4 + 255);
    assert.throws(() => encodePreamble({ mode: 0, portName: 'a'.repeat(256) }), (err: Error) => err instanceof PreambleError && /256 bytes.*at most 255/.test(err.message));
    assert.throws(() => encodePreamble({ mode: 0, portName: 'é'.repeat(128) }), PreambleError);
  });

  it('rejects an empty name and an unknown mode', () => {
    assert.throws(() => encodePreamble({ mode: 0, portName: '' }), /empty/);
    assert.throws(() => encodePreamble({ mode: 2 as PreambleMode, portName: 'x' }), /mode/);
  });
});

describe('azbridge preamble: decoding on the listener side', () => {
  const payload = Buffer.from('GET / HTTP/1.1\r\n');
  const preamble = encodePreamble({ mode: PreambleMode.Stream, portName: 'sql1' });
  const stream = Buffer.concat([preamble, payload]);

  it('decodes the preamble and hands back the payload that followed, for a split at every byte', () => {
    for (let at = 0; at <= stream.length; at++) {
      const decoder = new PreambleDecoder();
      const step = decodeSplit((c) => decoder.push(c), stream, at);
      assert.equal(step.status, 'complete', `split at ${at}`);
      if (step.status !== 'complete') continue;
      assert.deepEqual(step.value, { ok: true, preamble: { mode: 0, portName: 'sql1' } });
      assert.deepEqual(step.rest, at > 0 && at >= preamble.length ? payload.subarray(0, at - preamble.length) : payload, `split at ${at}`);
    }
  });

  it('decodes one byte at a time and completes exactly on the last name byte', () => {
    const decoder = new PreambleDecoder();
    for (let i = 0; i < preamble.length - 1; i++) assert.equal(decoder.push(preamble.subarray(i, i + 1)).status, 'incomplete');
    const step = decoder.push(preamble.subarray(preamble.length - 1));
    assert.equal(step.status, 'complete');
    if (step.status === 'complete') assert.equal(step.rest.length, 0);
    assert.throws(() => decoder.push(Buffer.from([1])), /already/);
  });

  it('decodes a datagram preamble and a 255-byte name', () => {
    const name = 'n'.repeat(255);
    const step = new PreambleDecoder().push(encodePreamble({ mode: PreambleMode.Datagram, portName: name }));
    assert.deepEqual(step.status === 'complete' && step.value, { ok: true, preamble: { mode: 1, portName: name } });
  });

  it('does not keep the pushed buffer: later changes to it do not affect the result', () => {
    const chunk = Buffer.from(preamble.subarray(0, 5));
    const decoder = new PreambleDecoder();
    decoder.push(chunk);
    chunk.fill(0);
    const step = decoder.push(preamble.subarray(5));
    assert.deepEqual(step.status === 'complete' && step.value, { ok: true, preamble: { mode: 0, portName: 'sql1' } });
  });

  const badVersions: [string, number[]][] = [
    ['version 2.0', [2, 0, 0]],
    ['version 1.1', [1, 1, 0]],
    ['mode 2', [1, 0, 2]],
    ['zeros', [0, 0, 0]],
  ];
  for (const [label, bytes] of badVersions) {
    it(`reports an unsupported ${label} after three bytes, without waiting for a name`, () => {
      const step = new PreambleDecoder().push(Buffer.from([...bytes, 200, 1, 2]));
      assert.equal(step.status, 'complete');
      if (step.status !== 'complete') return;
      assert.deepEqual(step.value, { ok: false, problem: 'unsupported-version', bytes: Buffer.from(bytes) });
      assert.deepEqual(step.rest, Buffer.from([200, 1, 2]));
    });
  }

  it('reports a name that is not UTF-8', () => {
    const step = new PreambleDecoder().push(Buffer.from([1, 0, 0, 2, 0xc3, 0x28]));
    assert.deepEqual(step.status === 'complete' && step.value, { ok: false, problem: 'invalid-port-name' } satisfies PreambleDecodeValue);
  });

  it('accepts a zero-length name (the listener then finds no forwarder)', () => {
    const step = new PreambleDecoder().push(Buffer.from([1, 0, 0, 0, 9]));
    assert.equal(step.status, 'complete');
    if (step.status === 'complete') {
      assert.deepEqual(step.value, { ok: true, preamble: { mode: 0, portName: '' } });
      assert.deepEqual(step.rest, Buffer.from([9]));
    }
  });
});

describe('azbridge preamble: replies', () => {
  const cases: [PreambleReply, string][] = [
    [{ kind: 'accepted', mode: 0 }, '010000'],
    [{ kind: 'accepted', mode: 1 }, '010001'],
    [{ kind: 'unsupported-version' }, '000000'],
    [{ kind: 'target-is-datagram' }, '000001'],
    [{ kind: 'target-is-stream' }, '0000ff'],
    [{ kind: 'unknown-port-name', reason: '' }, '0000fe00'],
    [{ kind: 'unknown-port-name', reason: 'sql3' }, '0000fe04' + Buffer.from('sql3').toString('hex')],
    [{ kind: 'target-unreachable', reason: 'ECONNREFUSED' }, '0000fd0c' + Buffer.from('ECONNREFUSED').toString('hex')],
  ];

  for (const [reply, hex] of cases) {
    it(`encodes ${reply.kind} as ${hex.slice(0, 8)}… and decodes it at every split`, () => {
      const encoded = encodePreambleReply(reply);
      assert.equal(encoded.toString('hex'), hex);
      const stream = Buffer.concat([encoded, Buffer.from('data')]);
      for (let at = 0; at <= stream.length; at++) {
        const decoder = new PreambleReplyDecoder();
        const step = decodeSplit((c) => decoder.push(c), stream, at);
        assert.equal(step.status, 'complete', `split at ${at}`);
        if (step.status !== 'complete') continue;
        assert.deepEqual(step.value, reply);
        const restExpected = at > 0 && at >= encoded.length ? Buffer.from('data').subarray(0, at - encoded.length) : Buffer.from('data');
        assert.deepEqual(step.rest, restExpected, `split at ${at}`);
      }
    });
  }

  it('an azbridge local side, which checks only the first three bytes for 01 00 mm, sees every hybridge error as a refusal', () => {
    for (const reply of [{ kind: 'unknown-port-name', reason: 'x' }, { kind: 'target-unreachable', reason: 'y' }] as PreambleReply[]) {
      const first3 = encodePreambleReply(reply).subarray(0, 3);
      assert.notEqual(first3[0], 1);
    }
  });

  it('classifies bytes no peer sends as unrecognized and never as accepted', () => {
    for (const bytes of [[1, 0, 2], [1, 1, 0], [2, 0, 0], [0, 0, 2], [0, 1, 0]]) {
      const step = new PreambleReplyDecoder().push(Buffer.from(bytes));
      assert.deepEqual(step.status === 'complete' && step.value, { kind: 'unrecognized', bytes: Buffer.from(bytes) });
    }
  });

  it('checks that the accepted mode is the one asked for', () => {
    assert.equal(isAcceptedFor({ kind: 'accepted', mode: 0 }, 0), true);
    assert.equal(isAcceptedFor({ kind: 'accepted', mode: 1 }, 0), false);
    assert.equal(isAcceptedFor({ kind: 'target-is-stream' }, 1), false);
  });

  it('truncates a long reason at a character boundary within 255 bytes', () => {
    const encoded = encodePreambleReply({ kind: 'target-unreachable', reason: 'é'.repeat(200) });
    assert.equal(encoded[3], 254);
    assert.equal(encoded.subarray(4).toString('utf8'), 'é'.repeat(127));
  });

  it('end() returns a reason reply cut short by EOF, and nothing for fewer than three bytes', () => {
    const short = new PreambleReplyDecoder();
    assert.equal(short.push(Buffer.from([0, 0])).status, 'incomplete');
    assert.equal(short.end(), undefined);

    const cut = new PreambleReplyDecoder();
    assert.equal(cut.push(Buffer.from([0, 0, 0xfe, 10, 0x61, 0x62])).status, 'incomplete');
    assert.deepEqual(cut.end(), { kind: 'unknown-port-name', reason: 'ab' });

    const noLength = new PreambleReplyDecoder();
    assert.equal(noLength.push(Buffer.from([0, 0, 0xfd])).status, 'incomplete');
    assert.deepEqual(noLength.end(), { kind: 'target-unreachable', reason: '' });
  });

  it('describes each reply in one line', () => {
    for (const [reply] of cases) assert.doesNotMatch(describePreambleReply(reply), /\n/);
    assert.match(describePreambleReply({ kind: 'unknown-port-name', reason: 'sql3' }), /unknown port name: sql3/);
  });
});
