import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeSettings, encodeFrame, encodeGoAway, encodeHeader, encodePing, encodeReset, encodeSettings, encodeWindow, FrameDecoder, FrameFlag, FrameType, MAX_FRAME_PAYLOAD, MuxProtocolError, type Frame, type FrameSink } from '../../src/mux/frame.js';
import { MuxSession } from '../../src/mux/session.js';
import { fc, fuzz, onlyThrows, split } from '../fuzz/fuzz-kit.js';
import { waitFor, withTimeout } from '../helpers/async.js';
import { transportPair } from './mux-pair.js';

const validFrame = fc.oneof(
  fc.record({ stream: fc.integer({ min: 1, max: 0xffffffff }), data: fc.uint8Array({ maxLength: 2000 }), flags: fc.constantFrom(0, FrameFlag.Text, FrameFlag.More, FrameFlag.Text | FrameFlag.More), type: fc.constantFrom(FrameType.Data, FrameType.Open) }).map((f) => encodeFrame(f.type, f.flags, f.stream, Buffer.from(f.data))),
  fc.integer({ min: 1, max: 0xffffffff }).map((s) => encodeFrame(FrameType.Fin, 0, s)),
  fc.record({ s: fc.integer({ min: 1, max: 0xffffffff }), code: fc.integer({ min: 0, max: 0xffff }), reason: fc.string({ maxLength: 200 }) }).map((r) => encodeReset(r.s, r.code, r.reason)),
  fc.record({ s: fc.integer({ min: 1, max: 0xffffffff }), inc: fc.integer({ min: 1, max: 0x7fffffff }) }).map((w) => encodeWindow(w.s, w.inc)),
  fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => encodePing(false, Buffer.from(b))),
  fc.record({ last: fc.integer({ min: 0, max: 0xffffffff }), code: fc.integer({ min: 0, max: 0xffff }), reason: fc.string({ maxLength: 50 }) }).map((g) => encodeGoAway(g.last, g.code, g.reason)),
  fc.record({ window: fc.integer({ min: MAX_FRAME_PAYLOAD, max: 0x7fffffff }), maxStreams: fc.integer({ min: 1, max: 100_000 }) }).map((s) => encodeSettings(s)),
);

/** Reassembles whole frames from a decoder's events (DATA/OPEN payloads arrive in pieces). */
function collecting(frames: Frame[]): FrameSink {
  let data: { type: FrameType; flags: number; stream: number; pieces: Buffer[] } | undefined;
  return {
    onFrame: (f) => frames.push({ ...f, payload: Buffer.from(f.payload) }),
    onDataStart: (type, flags, stream) => (data = { type, flags, stream, pieces: [] }),
    onPayload: (piece) => data!.pieces.push(Buffer.from(piece)),
    onDataEnd: () => frames.push({ type: data!.type, flags: data!.flags, stream: data!.stream, payload: Buffer.concat(data!.pieces) }),
  };
}

const ignore: FrameSink = { onFrame: () => undefined, onDataStart: () => undefined, onPayload: () => undefined, onDataEnd: () => undefined };

function decodeAll(chunks: Buffer[], maxLongFrame = 0): Frame[] {
  const decoder = new FrameDecoder(maxLongFrame);
  const frames: Frame[] = [];
  const sink = collecting(frames);
  for (const chunk of chunks) decoder.push(chunk, sink);
  return frames;
}

describe('mux frames', () => {
  it('round-trip: any sequence of valid frames, cut anywhere, decodes to the same frames', () => {
    fuzz(fc.record({ frames: fc.array(validFrame, { maxLength: 20 }), cuts: fc.array(fc.nat(), { maxLength: 10 }) }), ({ frames, cuts }) => {
      const bytes = Buffer.concat(frames);
      const decoded = decodeAll(split(bytes, cuts));
      assert.equal(decoded.length, frames.length);
      decoded.forEach((frame, i) => {
        const again = encodeFrame(frame.type, frame.flags, frame.stream, frame.payload);
        assert.deepEqual(again, frames[i]);
      });
    });
  });

  it('malformed input: the decoder only ever throws MuxProtocolError, and holds at most one frame', () => {
    fuzz(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }), (chunks) => {
      const decoder = new FrameDecoder();
      onlyThrows(() => {
        for (const chunk of chunks) {
          decoder.push(Buffer.from(chunk), ignore);
          assert.ok(decoder.buffered < 8 + MAX_FRAME_PAYLOAD);
        }
      }, MuxProtocolError);
    });
  });

  it('refuses an oversized frame, an unknown type, a session frame on a stream and a stream frame on stream 0', () => {
    const header = (type: number, flags: number, stream: number, length: number) => {
      const b = Buffer.alloc(8);
      b[0] = type;
      b[1] = flags;
      b.writeUInt32BE(stream, 2);
      b.writeUInt16BE(length, 6);
      return b;
    };
    const cases: [Buffer, RegExp][] = [
      [header(FrameType.Data, 0, 1, MAX_FRAME_PAYLOAD + 1), /at most 16384/],
      [header(0x42, 0, 1, 0), /unknown frame type/],
      [header(FrameType.Ping, 0, 3, 8), /belongs to stream 0/],
      [header(FrameType.Data, 0, 0, 0), /on stream 0/],
      [header(FrameType.Fin, 0x80, 1, 0), /unknown flags/],
      [header(FrameType.Window, 0, 1, 2), /4 bytes/],
    ];
    for (const [bytes, message] of cases) assert.throws(() => new FrameDecoder().push(bytes, ignore), (err: Error) => err instanceof MuxProtocolError && message.test(err.message));
  });

  it('LONG frames (version 2): decoded in pieces cut anywhere, refused when not offered, 1009 above the agreed size', () => {
    fuzz(fc.record({ size: fc.integer({ min: MAX_FRAME_PAYLOAD + 1, max: 200_000 }), cuts: fc.array(fc.nat(), { maxLength: 12 }), stream: fc.integer({ min: 1, max: 0xffffffff }) }), ({ size, cuts, stream }) => {
      const payload = Buffer.alloc(size, stream & 0xff);
      const bytes = Buffer.concat([encodeHeader(FrameType.Data, FrameFlag.More, stream, size), payload, encodeFrame(FrameType.Fin, 0, stream)]);
      const frames = decodeAll(split(bytes, cuts), 1024 * 1024);
      assert.equal(frames.length, 2);
      assert.equal(frames[0]!.flags, FrameFlag.More, 'the LONG flag is the decoder\'s business, not the stream\'s');
      assert.equal(frames[0]!.payload.length, size);
      assert.ok(frames[0]!.payload.equals(payload));
      assert.equal(frames[1]!.type, FrameType.Fin);
    });
    const long = encodeHeader(FrameType.Data, 0, 1, MAX_FRAME_PAYLOAD + 1);
    assert.equal(long.length, 10);
    assert.throws(() => new FrameDecoder().push(long, ignore), (err: Error) => err instanceof MuxProtocolError && /unknown flags/.test(err.message), 'a version 1 decoder refuses LONG');
    assert.throws(() => new FrameDecoder(64 * 1024).push(encodeHeader(FrameType.Data, 0, 1, 64 * 1024 + 1), ignore), (err: Error) => err instanceof MuxProtocolError && err.closeCode === 1009);
    // A short payload never takes the LONG form.
    assert.equal(encodeHeader(FrameType.Data, 0, 1, MAX_FRAME_PAYLOAD).length, 8);
  });

  it('the 12-byte SETTINGS (maxFrame) only where LONG frames were offered, and within bounds', () => {
    const twelve = Buffer.alloc(12);
    twelve.writeUInt32BE(256 * 1024, 0);
    twelve.writeUInt32BE(100, 4);
    twelve.writeUInt32BE(1024 * 1024, 8);
    assert.deepEqual(decodeSettings(twelve, true), { window: 256 * 1024, maxStreams: 100, maxFrame: 1024 * 1024 });
    assert.throws(() => decodeSettings(twelve), (err: Error) => err instanceof MuxProtocolError && /must carry 8 bytes/.test(err.message));
    twelve.writeUInt32BE(MAX_FRAME_PAYLOAD, 8);
    assert.throws(() => decodeSettings(twelve, true), (err: Error) => err instanceof MuxProtocolError && /max frame/.test(err.message));
    twelve.writeUInt32BE(32 * 1024 * 1024, 8);
    assert.throws(() => decodeSettings(twelve, true), (err: Error) => err instanceof MuxProtocolError && /max frame/.test(err.message));
  });

  it('a session fed garbage after the handshake closes its connection with a protocol close code; it never throws', async () => {
    const samples = fc.sample(fc.uint8Array({ minLength: 8, maxLength: 200 }), { numRuns: 20, seed: 19 });
    for (const garbage of samples) {
      const pair = await transportPair();
      try {
        let closed = 'open' as Error | undefined | 'open';
        new MuxSession(pair.server, { role: 'acceptor', keepAliveMs: 0, onClose: (error) => (closed = error) });
        pair.client.write(encodeSettings({ window: 256 * 1024, maxStreams: 10 }));
        pair.client.write(Buffer.from(garbage));
        // A bad frame closes the session at once; a partial one waits for its rest, until the peer is gone.
        // Either way it ends with an error, and nothing escapes as an exception (node:test would report it).
        await new Promise((resolve) => setTimeout(resolve, 20));
        pair.clientSocket.destroy();
        await withTimeout(waitFor(() => closed !== 'open', 2000, 'session closed'), 3000, 'session');
        assert.ok(closed instanceof Error);
      } finally {
        pair.clientSocket.destroy();
        pair.serverSocket.destroy();
      }
    }
  });

  it('a stream frame for a stream never opened closes the session with 1002 and the reason', async () => {
    const pair = await transportPair();
    try {
      let closedWith: Error | undefined;
      new MuxSession(pair.server, { role: 'acceptor', keepAliveMs: 0, onClose: (error) => (closedWith = error) });
      const peerClose = new Promise<number>((resolve) => pair.client.once('error', (err: Error & { closeCode?: number }) => resolve(err.closeCode ?? -1)));
      pair.client.write(Buffer.concat([encodeSettings({ window: 256 * 1024, maxStreams: 10 }), encodeFrame(FrameType.Data, 0, 7, Buffer.from('x'))]));
      pair.client.resume();
      assert.equal(await withTimeout(peerClose, 5000, 'close'), 1002);
      assert.match(String(closedWith), /never opened/);
    } finally {
      pair.clientSocket.destroy();
      pair.serverSocket.destroy();
    }
  });
});
