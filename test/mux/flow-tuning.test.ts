import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HybridConnectionStream } from '../../src/client/hybrid-connection-stream.js';
import { DEFAULT_STREAM_WINDOW } from '../../src/mux/session.js';
import { MAX_STREAM_WINDOW, PROBE_TIMEOUT_MS, WINDOW_GROWTH_BUDGET, WindowTuner } from '../../src/mux/window-tuner.js';
import { readAll, waitFor, withTimeout } from '../helpers/async.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { muxPair } from './mux-pair.js';

/** Writes `data` to `stream` in 64 KiB pieces, waiting for 'drain'. */
function pump(stream: HybridConnectionStream, data: Buffer): void {
  let offset = 0;
  const more = (): void => {
    while (offset < data.length) {
      const piece = data.subarray(offset, offset + 64 * 1024);
      offset += piece.length;
      if (!stream.write(piece)) return void stream.once('drain', more);
    }
    stream.end();
  };
  more();
}

describe('mux flow tuning', () => {
  it('a reader that keeps up gets a larger window than the initial one (measured by PING), a stopped one next to it keeps its window', async () => {
    const pair = await muxPair();
    try {
      const fast = pair.open();
      const stalled = pair.open();
      fast.write('f');
      stalled.write('s');
      await waitFor(() => pair.accepted.length === 2, 5000, 'accepted');
      const [fastRemote, stalledRemote] = pair.accepted as [HybridConnectionStream, HybridConnectionStream];
      stalledRemote.pause();
      pump(stalled, patternBytes(4 * 1024 * 1024, 2));
      const data = patternBytes(24 * 1024 * 1024, 1);
      const got = readAll(fastRemote);
      pump(fast, data);
      const received = await withTimeout(got, 20_000, 'the fast stream');
      assert.equal(sha256(received), sha256(Buffer.concat([Buffer.from('f'), data])));
      const [fastChannel, stalledChannel] = pair.channels;
      assert.ok(pair.acceptor.targetWindow > DEFAULT_STREAM_WINDOW, `target window ${pair.acceptor.targetWindow}`);
      // The fast stream is over (its window released); what it reached shows in the target, and the
      // stalled stream never grew: it holds at most the initial window.
      assert.ok(fastChannel!.currentWindow > DEFAULT_STREAM_WINDOW && fastChannel!.currentWindow <= MAX_STREAM_WINDOW, `fast window ${fastChannel!.currentWindow}`);
      assert.equal(stalledChannel!.currentWindow, DEFAULT_STREAM_WINDOW);
      assert.ok(stalledChannel!.unGrantedBytes <= DEFAULT_STREAM_WINDOW);
    } finally {
      pair.destroy();
    }
  });

  it('a turn of frames from several streams leaves as one WebSocket message', async () => {
    const pair = await muxPair();
    try {
      let messages = 0;
      let bytes = 0;
      const transport = pair.client;
      const sendParts = transport.sendParts.bind(transport);
      transport.sendParts = (parts) => {
        messages++;
        for (const part of parts) bytes += part.length;
        return sendParts(parts);
      };
      const streams = Array.from({ length: 4 }, () => pair.open());
      const data = patternBytes(1024 * 1024, 3);
      const received = Promise.all(
        streams.map(async (_, i) => {
          await waitFor(() => pair.accepted.length > i, 5000, `stream ${i}`);
          return readAll(pair.accepted[i]!);
        }),
      );
      for (const stream of streams) pump(stream, data);
      const all = await withTimeout(received, 20_000, 'streams');
      for (const got of all) assert.equal(sha256(got), sha256(data));
      // 4 MiB in frames of at most 16 KiB is at least 256 frames; they left in far fewer messages.
      assert.ok(bytes >= 4 * data.length, `${bytes} bytes sent`);
      assert.ok(messages > 0 && messages * 4 <= 256, `${messages} messages for 4 MiB`);
    } finally {
      pair.destroy();
    }
  });

  it('a probe whose ACK never comes is replaced after PROBE_TIMEOUT_MS, so the measurement goes on', () => {
    const tuner = new WindowTuner(DEFAULT_STREAM_WINDOW);
    const first = tuner.received(1, 1000, 0)!;
    assert.ok(first);
    assert.equal(tuner.received(1, 1000, PROBE_TIMEOUT_MS - 1), undefined, 'one probe at a time');
    const second = tuner.received(1, 1000, PROBE_TIMEOUT_MS);
    assert.ok(second && !second.equals(first), 'a new probe replaces the lost one');
    tuner.received(1, 1024 * 1024, PROBE_TIMEOUT_MS + 1);
    assert.equal(tuner.acknowledged(first), false, 'the late ACK of the old probe counts for nothing');
    assert.equal(tuner.acknowledged(second!), true);
    // The data that set the probe off counts with what followed: twice the 1 MiB + 1000 bytes.
    assert.equal(tuner.targetWindow, 2 * (1024 * 1024 + 1000));
  });

  it('the target grows by the window the probed data was sent under (one round trip earlier), and stops where the path is the limit', () => {
    const tuner = new WindowTuner(DEFAULT_STREAM_WINDOW);
    const roundTrip = (bytes: number): number => {
      const probe = tuner.received(1, 1)!;
      assert.ok(probe, 'a probe goes out with the first data after an ACK');
      tuner.received(1, bytes - 1);
      assert.equal(tuner.acknowledged(probe), true);
      return tuner.targetWindow;
    };
    const KiB = 1024;
    // The initial window was the limit: the target quadruples.
    assert.equal(roundTrip(256 * KiB), 1024 * KiB);
    // The grant of the grown window reached the sender only half a round trip ago, so this round
    // trip still carried about the old window: that is still window-limited, and it grows again.
    assert.equal(roundTrip(300 * KiB), 4096 * KiB);
    // Sent under the 1 MiB window, only 600 KiB arrived: the path is the limit now.
    assert.equal(roundTrip(600 * KiB), 4096 * KiB);
    assert.equal(roundTrip(1024 * KiB), 4096 * KiB);
    assert.equal(roundTrip(2560 * KiB), 4096 * KiB);
    // The path got faster and filled two thirds of the window: it grows again, up to the cap.
    assert.equal(roundTrip(3000 * KiB), MAX_STREAM_WINDOW);
  });

  it('a window-limited round trip whose burst spilled into the next probe still grows the target, unless a pause parted the two', () => {
    const KiB = 1024;
    const RTT = 160;
    const run = (rounds: Array<{ bytes: number; pauseAfter?: number }>): number[] => {
      const tuner = new WindowTuner(DEFAULT_STREAM_WINDOW);
      let now = 1000;
      return rounds.map(({ bytes, pauseAfter = 0 }) => {
        const probe = tuner.received(1, 1, now)!;
        assert.ok(probe);
        tuner.received(1, bytes - 1, now + 1);
        now += RTT;
        assert.equal(tuner.acknowledged(probe, now), true);
        now += pauseAfter;
        return tuner.targetWindow;
      });
    };
    // Measured across 160 ms: the 256 KiB window's first burst all fell into the first probe, the
    // second burst partly into the probe after the next. Under the same window, the two carried 78 %.
    assert.deepEqual(run([{ bytes: 262 * KiB }, { bytes: 138 * KiB }]), [1024 * KiB, 4096 * KiB]);
    // The same two with more than a round trip between them: the second alone is path-limited.
    assert.deepEqual(run([{ bytes: 262 * KiB, pauseAfter: 2 * RTT }, { bytes: 138 * KiB }]), [1024 * KiB, 1024 * KiB]);
    // A path that carries 60 % of the window round after round never grows it.
    assert.deepEqual(run([{ bytes: 154 * KiB }, { bytes: 154 * KiB }, { bytes: 154 * KiB }]), [256 * KiB, 256 * KiB, 256 * KiB]);
  });

  it('grown windows share one budget evenly: a stream added later shrinks the grown ones back by withholding credit', () => {
    const tuner = new WindowTuner(DEFAULT_STREAM_WINDOW);
    // One probe round trip in which a stream received 4 MiB: the target doubles it.
    const probe = tuner.received(1, 1000)!;
    assert.ok(probe);
    tuner.received(1, 4 * 1024 * 1024);
    assert.equal(tuner.acknowledged(Buffer.alloc(8)), false, 'a keep-alive ACK is not the probe');
    assert.equal(tuner.acknowledged(probe), true);
    assert.equal(tuner.targetWindow, MAX_STREAM_WINDOW);
    const window = { initialWindow: DEFAULT_STREAM_WINDOW, currentWindow: DEFAULT_STREAM_WINDOW };
    // Alone on the session it grows to the target, but only when its reader kept up.
    assert.equal(tuner.windowChange(window, 64 * 1024, false, 1), 0);
    const growth = tuner.windowChange(window, 64 * 1024, true, 1);
    assert.equal(growth, MAX_STREAM_WINDOW - DEFAULT_STREAM_WINDOW);
    window.currentWindow += growth;
    // With 8 streams open its fair share is initial + budget / 8; it gives credit back to get there.
    const share = DEFAULT_STREAM_WINDOW + WINDOW_GROWTH_BUDGET / 8;
    const back = tuner.windowChange(window, 64 * 1024, true, 8);
    assert.equal(back, -64 * 1024, 'at most the credit of this grant is withheld');
    window.currentWindow += back;
    let rounds = 0;
    while (window.currentWindow > share && rounds++ < 1000) window.currentWindow += tuner.windowChange(window, 64 * 1024, true, 8);
    assert.equal(window.currentWindow, share);
    tuner.released(window);
    // Everything returned: a fresh stream alone can grow to the full target again.
    assert.equal(tuner.windowChange({ initialWindow: DEFAULT_STREAM_WINDOW, currentWindow: DEFAULT_STREAM_WINDOW }, 1, true, 1), MAX_STREAM_WINDOW - DEFAULT_STREAM_WINDOW);
  });
});
