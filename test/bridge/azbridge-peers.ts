/**
 * Test peers that behave byte for byte like azbridge's two ends (reference/azbridge.md §3.2-§3.4),
 * built on the raw client library so the tests control every message:
 * - an azbridge local side: preamble as two messages (`01 00 mode len`, then the name), then a
 *   3-byte reply read from the byte stream, then data;
 * - an azbridge remote side: reads 3 version bytes, 1 length byte and the name as a byte stream,
 *   answers `01 00 mode`, then echoes (stream) or echoes framed datagrams (UDP); a mode other than
 *   0 and 1 gets `00 00 00` and a close.
 */
import { HybridConnectionClient, HybridConnectionListener, type HybridConnectionStream } from '../../src/client/index.js';
import type { TestRelay } from '../helpers/relay.js';
import { readExactly } from '../shared/read-exactly.js';
import { track } from './bridge-kit.js';

export async function azbridgeLocalSide(relay: TestRelay, entity: string, portName: string, mode: 0 | 1): Promise<{ stream: HybridConnectionStream; reply: Buffer }> {
  const client = new HybridConnectionClient({ connectionString: relay.connectionString(entity) });
  const stream = await client.createConnection();
  const name = Buffer.from(portName, 'utf8');
  await stream.sendMessage(Buffer.from([1, 0, mode, name.length]));
  await stream.sendMessage(name);
  const reply = await readExactly(stream, 3);
  return { stream, reply };
}

export interface AzbridgeRemotePeer {
  listener: HybridConnectionListener;
  /** The preambles received, as raw bytes. */
  preambles: Buffer[];
  close(): Promise<void>;
}

/**
 * An azbridge remote side on `entity`. `replyDelayMs(index)` holds back the reply of the n-th
 * connection (to make one connect slow). Stream connections are echoed; datagram ones have their
 * framed datagrams echoed back, one message each.
 */
export async function azbridgeRemoteSide(relay: TestRelay, entity: string, options: { replyDelayMs?: (index: number) => number } = {}): Promise<AzbridgeRemotePeer> {
  const listener = new HybridConnectionListener({ connectionString: relay.connectionString(entity) });
  const streams = new Set<HybridConnectionStream>();
  const peer: AzbridgeRemotePeer = {
    listener,
    preambles: [],
    close: async () => {
      for (const stream of streams) stream.destroy();
      await listener.close();
    },
  };
  let index = 0;
  listener.on('connection', (stream) => {
    const n = index++;
    streams.add(stream);
    stream.once('close', () => streams.delete(stream));
    stream.on('error', () => undefined);
    void (async () => {
      const head = await readExactly(stream, 4);
      const name = await readExactly(stream, head[3]!);
      peer.preambles.push(Buffer.concat([head, name]));
      // azbridge knows modes 0 (stream) and 1 (datagram) only: anything else (hybridge's session hello) gets 00 00 00.
      if (head[2] !== 0 && head[2] !== 1) {
        stream.write(Buffer.from([0, 0, 0]));
        return stream.end();
      }
      const delay = options.replyDelayMs?.(n) ?? 0;
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      stream.write(Buffer.from([1, 0, head[2]!]));
      if (head[2] === 0) {
        stream.pipe(stream);
        stream.resume();
        return;
      }
      for (;;) {
        const length = (await readExactly(stream, 2, 60_000)).readUInt16BE(0);
        const payload = await readExactly(stream, length);
        const framed = Buffer.alloc(2 + length);
        framed.writeUInt16BE(length, 0);
        payload.copy(framed, 2);
        await stream.sendMessage(framed);
      }
    })().catch(() => stream.destroy());
  });
  await listener.open();
  return track(peer);
}
