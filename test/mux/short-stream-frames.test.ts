import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HybridConnectionStream } from '../../src/client/hybrid-connection-stream.js';
import { FrameDecoder, FrameType, type FrameSink } from '../../src/mux/frame.js';
import { DEFAULT_MAX_FRAME } from '../../src/mux/session.js';
import { readAll, waitFor, withTimeout } from '../helpers/async.js';
import { muxPair } from './mux-pair.js';

const TYPE_NAMES = new Map<number, string>(Object.entries(FrameType).map(([name, type]) => [type, name]));

/** Records the type of every mux frame `transport` sends from now on (each message holds whole frames). */
function recordFrameTypes(transport: HybridConnectionStream): string[] {
  const types: string[] = [];
  const sink: FrameSink = {
    onFrame: (frame) => void types.push(TYPE_NAMES.get(frame.type)!),
    onDataStart: (type) => void types.push(TYPE_NAMES.get(type)!),
    onPayload: () => undefined,
    onDataEnd: () => undefined,
  };
  const sendParts = transport.sendParts.bind(transport);
  transport.sendParts = (parts) => {
    new FrameDecoder(DEFAULT_MAX_FRAME).push(Buffer.concat(parts), sink);
    return sendParts(parts);
  };
  return types;
}

describe('mux short stream', () => {
  it('a connection-sized stream (first message, reply, one echo, both ends closing) sends only OPEN, DATA and FIN: no window probe, no WINDOW for a few bytes', async () => {
    const pair = await muxPair();
    try {
      const fromInitiator = recordFrameTypes(pair.client);
      const fromAcceptor = recordFrameTypes(pair.server);
      const stream = pair.open();
      const got = readAll(stream);
      stream.write(Buffer.from([1, 0, 5, 0x33, 0x38, 0x30, 0x32, 0x33, 0x00]));
      await waitFor(() => pair.accepted.length === 1, 5000, 'the stream at the acceptor');
      const remote = pair.accepted[0]!;
      // As a listener end reads a preamble: one message (the reader pauses, then resumes).
      const first = await remote.readMessage(5000, 64 * 1024);
      assert.equal(first?.data.length, 9);
      remote.write(Buffer.from([1, 0, 0]));
      stream.write(Buffer.from('x'));
      const echo = (await withTimeout(new Promise<Buffer>((resolve) => remote.once('data', resolve)), 5000, 'the echo byte')) as Buffer;
      remote.write(echo);
      stream.end();
      await withTimeout(new Promise((resolve) => remote.once('end', resolve)), 5000, 'the fin at the acceptor');
      remote.end();
      assert.deepEqual([...(await withTimeout(got, 5000, 'the reply and the echo'))], [1, 0, 0, 0x78]);
      await waitFor(() => pair.initiator.activeStreams === 0 && pair.acceptor.activeStreams === 0, 5000, 'both ends released the stream');
      assert.deepEqual(new Set(fromInitiator), new Set(['Open', 'Data', 'Fin']), `initiator sent ${fromInitiator.join(', ')}`);
      assert.deepEqual(new Set(fromAcceptor), new Set(['Data', 'Fin']), `acceptor sent ${fromAcceptor.join(', ')}`);
    } finally {
      pair.destroy();
    }
  });
});
