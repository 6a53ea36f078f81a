import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConnectionLostError } from '../../src/client/errors.js';
import type { HybridConnectionStream } from '../../src/client/hybrid-connection-stream.js';
import { ResetCode } from '../../src/mux/frame.js';
import { DEFAULT_STREAM_WINDOW } from '../../src/mux/session.js';
import { readAll, waitFor, withTimeout } from '../helpers/async.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { muxPair } from './mux-pair.js';

/** The acceptor echoes every stream back (half-close carried: it ends when the sender has). */
function echo(stream: HybridConnectionStream): void {
  stream.pipe(stream);
}

async function send(stream: HybridConnectionStream, data: Buffer): Promise<Buffer> {
  const received = readAll(stream);
  stream.end(data);
  return received;
}

describe('mux session', () => {
  it('carries 64 concurrent streams of different sizes, each intact, on one connection', async () => {
    const pair = await muxPair({ onStream: echo });
    try {
      const sizes = Array.from({ length: 64 }, (_, i) => (i * 37_911) % 700_000);
      const results = await withTimeout(Promise.all(sizes.map((size, i) => send(pair.open(), patternBytes(size, i + 1)))), 20_000, 'echo');
      results.forEach((got, i) => {
        assert.equal(got.length, sizes[i]);
        assert.equal(sha256(got), sha256(patternBytes(sizes[i]!, i + 1)));
      });
      assert.equal(pair.accepted.length, 64);
      await waitFor(() => pair.initiator.activeStreams === 0 && pair.acceptor.activeStreams === 0, 5000, 'streams released');
    } finally {
      pair.destroy();
    }
  });

  it('half-closes each way: the listener keeps sending after the sender ended, and the other way round', async () => {
    const pair = await muxPair();
    try {
      const a = pair.open();
      a.write('request');
      a.end();
      await waitFor(() => pair.accepted.length === 1, 5000, 'stream accepted');
      const remote = pair.accepted[0]!;
      const got = await withTimeout(readAll(remote), 5000, 'sender data');
      assert.equal(got.toString(), 'request');
      // The sender's direction is over; ours is still open.
      const answer = patternBytes(300_000, 9);
      const back = readAll(a);
      remote.end(answer);
      assert.equal(sha256(await withTimeout(back, 5000, 'answer')), sha256(answer));

      const b = pair.open();
      b.write('x');
      await waitFor(() => pair.accepted.length === 2, 5000, 'second stream');
      const remoteB = pair.accepted[1]!;
      const fromB = readAll(remoteB);
      remoteB.end('listener done first');
      assert.equal((await withTimeout(readAll(b), 5000, 'listener end')).toString(), 'listener done first');
      b.end(patternBytes(100_000, 3));
      assert.equal(sha256(await withTimeout(fromB, 5000, 'sender rest')), sha256(Buffer.concat([Buffer.from('x'), patternBytes(100_000, 3)])));
    } finally {
      pair.destroy();
    }
  });

  it('resets: an aborted stream fails at the other end with the code, and the session goes on', async () => {
    const pair = await muxPair({ onStream: echo });
    try {
      const a = pair.open();
      a.on('error', () => undefined);
      a.write('hello');
      await waitFor(() => pair.accepted.length === 1, 5000, 'accepted');
      const remote = pair.accepted[0]!;
      const failed = new Promise<Error>((resolve) => remote.once('error', resolve));
      a.destroy(new Error('client went away'));
      const error = await withTimeout(failed, 5000, 'reset seen');
      assert.ok(error instanceof ConnectionLostError, String(error));
      assert.equal((error as ConnectionLostError).closeCode, 1011);
      await waitFor(() => pair.acceptor.activeStreams === 0 && pair.initiator.activeStreams === 0, 5000, 'released');
      const got = await withTimeout(send(pair.open(), patternBytes(50_000, 4)), 5000, 'next stream');
      assert.equal(sha256(got), sha256(patternBytes(50_000, 4)));
    } finally {
      pair.destroy();
    }
  });

  it('a stream whose reader stops holds at most its window, and never stalls another stream on the session', async () => {
    const pair = await muxPair();
    try {
      const stalled = pair.open();
      const moving = pair.open();
      stalled.write('s');
      moving.write('m');
      await waitFor(() => pair.accepted.length === 2, 5000, 'accepted');
      const [stalledRemote, movingRemote] = pair.accepted as [HybridConnectionStream, HybridConnectionStream];
      stalledRemote.pause(); // never read
      // The sender keeps writing to the stalled stream: 8 MiB, far beyond the window.
      const flood = patternBytes(8 * 1024 * 1024, 5);
      let offered = 0;
      const pushMore = () => {
        while (offered < flood.length) {
          const chunk = flood.subarray(offered, offered + 64 * 1024);
          offered += chunk.length;
          if (!stalled.write(chunk)) return stalled.once('drain', pushMore);
        }
      };
      pushMore();
      const data = patternBytes(4 * 1024 * 1024, 6);
      const got = readAll(movingRemote);
      moving.end(data.subarray(1));
      movingRemote.resume();
      const received = await withTimeout(got, 15_000, 'the other stream');
      assert.equal(sha256(received), sha256(Buffer.concat([Buffer.from('m'), data.subarray(1)])));
      // What the stalled stream holds at the listener: its window's worth, plus the stream's buffer.
      const channel = pair.channels[0]!;
      const held = channel.unGrantedBytes;
      assert.ok(held <= DEFAULT_STREAM_WINDOW, `${held} bytes held, window ${DEFAULT_STREAM_WINDOW}`);
      assert.ok(stalledRemote.readableLength <= DEFAULT_STREAM_WINDOW + 64 * 1024, `${stalledRemote.readableLength} bytes buffered`);
      // And at the sender: the writes waited instead of queueing the 8 MiB.
      assert.ok(offered < flood.length, `the sender was able to hand over ${offered} bytes`);
      assert.ok(stalled.writableLength + 128 * 1024 < flood.length);
    } finally {
      pair.destroy();
    }
  });

  it('refuses streams beyond the listener limit with reset 4001; the others carry on', async () => {
    const pair = await muxPair({ acceptor: { maxStreams: 2 }, onStream: echo });
    try {
      const a = pair.open();
      const b = pair.open();
      a.write('a');
      b.write('b');
      await waitFor(() => pair.accepted.length === 2, 5000, 'two accepted');
      // The initiator knows the limit and would not open a third; force one past it as a peer that ignores it might.
      assert.equal(pair.initiator.canOpen, false);
      const third = forceOpen(pair);
      third.on('error', () => undefined);
      const failed = new Promise<Error>((resolve) => third.once('error', resolve));
      third.write('c');
      const error = await withTimeout(failed, 5000, 'refusal');
      assert.equal((error as ConnectionLostError).closeCode, ResetCode.RefusedStreamLimit);
      assert.equal(pair.accepted.length, 2);
      const back = readAll(a);
      a.end();
      assert.equal((await withTimeout(back, 5000, 'a echo')).toString(), 'a');
    } finally {
      pair.destroy();
    }
  });

  it('goes away: no new streams, open ones finish, then the session ends cleanly', async () => {
    const pair = await muxPair({ onStream: echo });
    try {
      const a = pair.open();
      a.write('before');
      await waitFor(() => pair.accepted.length === 1, 5000, 'accepted');
      pair.acceptor.goAway();
      await waitFor(() => !pair.initiator.canOpen, 5000, 'initiator saw GOAWAY');
      const back = readAll(a);
      a.end(' and after');
      assert.equal((await withTimeout(back, 5000, 'echo')).toString(), 'before and after');
      await waitFor(() => pair.closed.initiator !== undefined && pair.closed.acceptor !== undefined, 5000, 'session ended');
      assert.equal(pair.closed.acceptor, 'clean');
      assert.equal(pair.closed.initiator, 'clean');
    } finally {
      pair.destroy();
    }
  });

  it('a session lost mid-stream fails every stream at both ends (never a clean end)', async () => {
    const pair = await muxPair();
    try {
      const streams = [pair.open(), pair.open(), pair.open()];
      for (const s of streams) s.write('x');
      await waitFor(() => pair.accepted.length === 3, 5000, 'accepted');
      const errors = [...streams, ...pair.accepted].map((s) => new Promise<Error>((resolve) => s.once('error', resolve)));
      pair.clientSocket.destroy();
      const seen = await withTimeout(Promise.all(errors), 5000, 'errors');
      for (const error of seen) assert.ok(error instanceof ConnectionLostError, String(error));
      assert.ok(pair.closed.initiator instanceof Error);
    } finally {
      pair.destroy();
    }
  });

  it('declares the session lost when keep-alive pings go unanswered', async () => {
    const pair = await muxPair({ initiator: { keepAliveMs: 100 } });
    try {
      const a = pair.open();
      a.on('error', () => undefined);
      a.write('x');
      await waitFor(() => pair.accepted.length === 1, 5000, 'accepted');
      // The listener's process stops reading (as a frozen peer would): nothing comes back.
      pair.serverSocket.pause();
      // A paused socket keeps no event loop alive, and the session's timer is unref'd (as in a real end, where the local listener is).
      const keepLoop = setInterval(() => undefined, 1000);
      try {
        const error = await withTimeout(new Promise<Error>((resolve) => a.once('error', resolve)), 5000, 'keep-alive');
        assert.match(error.message, /keep-alive/);
        assert.ok(pair.initiator.isClosed);
      } finally {
        clearInterval(keepLoop);
      }
    } finally {
      pair.destroy();
    }
  });
});

/** Opens a stream past the peer's limit, the way a sender that ignored SETTINGS would. */
function forceOpen(pair: Awaited<ReturnType<typeof muxPair>>): HybridConnectionStream {
  const session = pair.initiator as unknown as { peer: { maxStreams: number } };
  session.peer.maxStreams += 1;
  return pair.open();
}
