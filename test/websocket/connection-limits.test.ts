/**
 * The limits the WebSocket layer owns (issue 13): pong coalescing, the rate of pings it answers,
 * message sizes, whole text messages and their UTF-8, the write budget. The peer is a raw socket
 * writing frames byte by byte, so what WsConnection sends back is seen exactly.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { CloseCode } from '../../src/protocol/websocket-frame.js';
import { WsConnection, type ConnectionOptions } from '../../src/websocket/connection.js';
import { delay, waitFor } from '../helpers/async.js';
import { clientFrame, OP, parseServerFrames } from '../helpers/raw-frames.js';

interface Events {
  texts: string[];
  binaries: number[];
  failed: { code: number; message: string }[];
  closed: { code: number; error?: string } | undefined;
}

const servers: Server[] = [];
const sockets: { destroy(): void }[] = [];
// Also when a test failed half-way: nothing may keep the process alive.
after(() => {
  sockets.forEach((s) => s.destroy());
  servers.forEach((s) => s.close());
});

/** A WsConnection (server role) with `options`, and the raw peer socket that talks to it. */
async function connection(options: Partial<ConnectionOptions> = {}, collectText = true): Promise<{ conn: WsConnection; peer: Socket; events: Events; received: () => Buffer }> {
  const server = createServer();
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const peer = connect((server.address() as AddressInfo).port, '127.0.0.1');
  const [socket] = await accepted;
  const conn = new WsConnection(socket, { role: 'server', ...options });
  sockets.push(conn, peer);
  const events: Events = { texts: [], binaries: [], failed: [], closed: undefined };
  let binarySize = 0;
  conn.attach({
    onMessageStart: () => (binarySize = 0),
    onMessageData: (chunk) => (binarySize += chunk.length),
    onMessageEnd: () => events.binaries.push(binarySize),
    ...(collectText ? { onText: (text: string) => events.texts.push(text) } : {}),
    onFailed: (error) => events.failed.push({ code: error.closeCode, message: error.message }),
    onClosed: (code, _reason, error) => (events.closed = { code, error: error?.message }),
  });
  const chunks: Buffer[] = [];
  peer.on('data', (c: Buffer) => chunks.push(c));
  peer.on('error', () => undefined);
  return { conn, peer, events, received: () => Buffer.concat(chunks) };
}

const closeCodeOf = (bytes: Buffer) => parseServerFrames(bytes).find((f) => f.opcode === OP.close)?.payload.readUInt16BE(0);

describe('WsConnection limits', () => {
  it('answers a burst of pings with one pong, carrying the latest ping\'s payload', async () => {
    const { peer, received, conn } = await connection();
    peer.write(Buffer.concat(Array.from({ length: 50 }, (_, i) => clientFrame(OP.ping, Buffer.from(`p${i}`)))));
    await waitFor(() => parseServerFrames(received()).some((f) => f.opcode === OP.pong), 2000, 'a pong');
    await delay(100);
    const pongs = parseServerFrames(received()).filter((f) => f.opcode === OP.pong);
    assert.deepEqual(pongs.map((p) => p.payload.toString()), ['p49']);
    conn.destroy();
    peer.destroy();
  });

  it('writes no pong while the peer is write-blocked; one goes out, the latest, once it reads', async () => {
    const { peer, received, conn } = await connection();
    peer.pause();
    conn.sendBinary(Buffer.alloc(16 * 1024 * 1024));
    await waitFor(() => conn.writeBlocked, 2000, 'write-blocked');
    for (let i = 0; i < 10; i++) {
      peer.write(clientFrame(OP.ping, Buffer.from(`late${i}`)));
      await delay(5);
    }
    await delay(100);
    peer.resume();
    await waitFor(() => parseServerFrames(received()).some((f) => f.opcode === OP.pong), 5000, 'the pong after the drain');
    const frames = parseServerFrames(received());
    assert.equal(frames[0]!.opcode, OP.binary, 'the message in flight comes first, whole');
    assert.deepEqual(frames.filter((f) => f.opcode === OP.pong).map((p) => p.payload.toString()), ['late9']);
    conn.destroy();
    peer.destroy();
  });

  it('closes a peer past 100 pings a second with 1008, and stops reading it', async () => {
    const { peer, received, events } = await connection();
    peer.write(Buffer.concat(Array.from({ length: 150 }, () => clientFrame(OP.ping))));
    await waitFor(() => closeCodeOf(received()) !== undefined, 2000, 'a Close');
    assert.equal(closeCodeOf(received()), CloseCode.PolicyViolation);
    assert.deepEqual(events.failed, [{ code: 1008, message: 'too many pings' }]);
    // What it sends afterwards is not read; the socket goes after a short linger.
    peer.write(clientFrame(OP.text, Buffer.from('"ignored"')));
    await waitFor(() => events.closed !== undefined, 3000, 'the socket to go');
    assert.deepEqual(events.texts, []);
    peer.destroy();
  });

  it('refuses a message over maxMessageBytes with 1009, from the frame header when the frame alone is too big', async () => {
    for (const frames of [[clientFrame(OP.binary, Buffer.alloc(1000), { declaredLength: 2 ** 32 })], [clientFrame(OP.binary, Buffer.alloc(600), { fin: false }), clientFrame(0x0, Buffer.alloc(600))]]) {
      const { peer, received, events, conn } = await connection({ maxMessageBytes: 1024 });
      peer.write(Buffer.concat(frames));
      await waitFor(() => closeCodeOf(received()) !== undefined, 2000, 'a Close');
      assert.equal(closeCodeOf(received()), CloseCode.MessageTooBig);
      assert.equal(events.failed[0]?.code, 1009);
      assert.deepEqual(events.binaries, []);
      conn.destroy();
      peer.destroy();
    }
  });

  it('hands over whole text messages, however fragmented, within maxTextMessageBytes; binary messages stream on', async () => {
    const { peer, received, events, conn } = await connection({ maxTextMessageBytes: 64 * 1024, validateUtf8: true });
    const euro = Buffer.from('€', 'utf8');
    // A three-byte character split across fragments is fine: UTF-8 is checked on the whole message.
    peer.write(Buffer.concat([clientFrame(OP.text, Buffer.from('{"a":"'), { fin: false }), clientFrame(0x0, euro.subarray(0, 1), { fin: false }), clientFrame(0x0, Buffer.concat([euro.subarray(1), Buffer.from('"}')]))]));
    peer.write(clientFrame(OP.binary, Buffer.alloc(200_000)));
    await waitFor(() => events.texts.length === 1 && events.binaries.length === 1, 2000, 'both messages');
    assert.deepEqual(events.texts, ['{"a":"€"}']);
    assert.deepEqual(events.binaries, [200_000], 'binary messages are not bounded by the text limit');
    peer.write(clientFrame(OP.text, Buffer.alloc(64 * 1024 + 1, 0x20)));
    await waitFor(() => closeCodeOf(received()) !== undefined, 2000, 'a Close');
    assert.equal(closeCodeOf(received()), CloseCode.MessageTooBig);
    conn.destroy();
    peer.destroy();
  });

  it('with validateUtf8, refuses invalid UTF-8 in a text message or a Close reason with 1007', async () => {
    for (const frame of [clientFrame(OP.text, Buffer.from([0x7b, 0xc3, 0x28, 0x7d])), clientFrame(OP.close, Buffer.from([0x03, 0xe8, 0xed, 0xa0, 0x80]))]) {
      const { peer, received, events, conn } = await connection({ validateUtf8: true });
      peer.write(frame);
      await waitFor(() => closeCodeOf(received()) !== undefined, 2000, 'a Close');
      assert.equal(closeCodeOf(received()), CloseCode.InvalidPayload);
      assert.deepEqual(events.texts, []);
      conn.destroy();
      peer.destroy();
    }
  });

  it('bounds collected text even without a limit of its own (1 MiB)', async () => {
    const { peer, received, events, conn } = await connection();
    peer.write(clientFrame(OP.text, Buffer.alloc(1024 * 1024 + 1, 0x20)));
    await waitFor(() => closeCodeOf(received()) !== undefined, 2000, 'a Close');
    assert.equal(closeCodeOf(received()), CloseCode.MessageTooBig);
    assert.deepEqual(events.texts, []);
    conn.destroy();
    peer.destroy();
  });

  it('limitMessages() sets and lifts the message limit while the connection runs', async () => {
    const limited = await connection({}, false);
    limited.conn.limitMessages(100);
    limited.peer.write(clientFrame(OP.binary, Buffer.alloc(5000)));
    await waitFor(() => limited.events.failed.length === 1, 2000, 'the refusal');
    assert.equal(limited.events.failed[0]!.code, 1009);
    limited.conn.destroy();
    limited.peer.destroy();
    const lifted = await connection({}, false);
    lifted.conn.limitMessages(100);
    lifted.conn.limitMessages(undefined);
    lifted.peer.write(clientFrame(OP.binary, Buffer.alloc(5000)));
    await waitFor(() => lifted.events.binaries.length === 1, 2000, 'the message');
    assert.deepEqual(lifted.events.binaries, [5000]);
    assert.deepEqual(lifted.events.failed, []);
    lifted.conn.destroy();
    lifted.peer.destroy();
  });

  it('over its write budget, does not read the peer; after the stall time closes it 1008; back under the budget, reads on', async () => {
    const budget = { maxBufferedBytes: 256 * 1024, stallMs: 400 };
    // A peer that catches up in time: its message is read once our output drained.
    {
      const { peer, events, conn } = await connection({ writeBudget: budget });
      peer.pause();
      conn.sendBinary(Buffer.alloc(16 * 1024 * 1024));
      assert.equal(conn.overBudget, true);
      peer.write(clientFrame(OP.text, Buffer.from('"while over"')));
      await delay(150);
      assert.deepEqual(events.texts, [], 'not read while over the budget');
      peer.resume();
      await waitFor(() => events.texts.length === 1, 5000, 'the message once under the budget');
      assert.equal(conn.overBudget, false);
      assert.equal(events.closed, undefined);
      conn.destroy();
      peer.destroy();
    }
    // A peer that never reads: given up.
    {
      const { peer, events, conn } = await connection({ writeBudget: budget });
      peer.pause();
      conn.sendBinary(Buffer.alloc(16 * 1024 * 1024));
      await waitFor(() => events.closed !== undefined, 3000, 'the stalled connection to close');
      assert.match(events.closed!.error ?? '', /did not read/);
      peer.destroy();
    }
  });
});
