/**
 * WsConnection.coalesceWrites(): frames sent from separate callbacks of one event-loop turn leave
 * in one socket write, arrive intact and in order, and a lone frame or a close is not held back.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Opcode } from '../../src/protocol/websocket-frame.js';
import { WsConnection } from '../../src/websocket/connection.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { messages } from '../helpers/ws-messages.js';

/** A server-role sender and a client-role receiver over one loopback TCP connection, no handshake. */
async function pair(server: Server, port: number) {
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const clientSocket = connect(port, '127.0.0.1');
  await once(clientSocket, 'connect');
  const [serverSocket] = await accepted;
  let writes = 0;
  const plainWrite = serverSocket._write.bind(serverSocket);
  const plainWritev = serverSocket._writev!.bind(serverSocket);
  serverSocket._write = (chunk, encoding, callback) => {
    writes++;
    plainWrite(chunk, encoding, callback);
  };
  serverSocket._writev = (chunks, callback) => {
    writes++;
    plainWritev(chunks, callback);
  };
  const sender = new WsConnection(serverSocket, { role: 'server' });
  sender.attach({ onMessageData: () => undefined });
  const { received, closed, until } = messages(new WsConnection(clientSocket, { role: 'client' }));
  return { sender, received, closed, until, writes: () => writes, destroy: () => (clientSocket.destroy(), serverSocket.destroy()) };
}

/** Runs each send in its own setImmediate callback; all of them run in the same check phase. */
function sendInSeparateCallbacks(sends: (() => void)[]): Promise<void> {
  return new Promise((resolve) => {
    for (const send of sends) setImmediate(send);
    setImmediate(resolve);
  });
}

describe('WsConnection.coalesceWrites', () => {
  let server: Server;
  let port: number;
  before(async () => {
    server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const big = patternBytes(200_000, 3);
  const sends = (sender: WsConnection) => [
    () => sender.sendText('first'),
    () => sender.sendBinary(big),
    () => sender.ping(Buffer.from('p')),
    () => sender.sendFrameParts(Opcode.Binary, [Buffer.from('ab'), Buffer.from('cd')]),
    () => sender.sendText('last'),
  ];

  function checkMessages(received: { binary: boolean; data: Buffer }[]): void {
    assert.deepEqual(
      received.map((m) => (m.binary ? `binary ${m.data.length} ${sha256(m.data)}` : `text ${m.data.toString()}`)),
      ['text first', `binary ${big.length} ${sha256(big)}`, `binary 4 ${sha256(Buffer.from('abcd'))}`, 'text last'],
    );
  }

  it('sends the frames of one turn in one write, intact and in order', async () => {
    const p = await pair(server, port);
    try {
      p.sender.coalesceWrites();
      const before = p.writes();
      await sendInSeparateCallbacks(sends(p.sender));
      await p.until(() => p.received.length === 4);
      checkMessages(p.received);
      assert.equal(p.writes() - before, 1, 'one socket write for five frames sent from five callbacks');
    } finally {
      p.destroy();
    }
  });

  it('writes once per callback without it (what coalescing saves)', async () => {
    const p = await pair(server, port);
    try {
      const before = p.writes();
      await sendInSeparateCallbacks(sends(p.sender));
      await p.until(() => p.received.length === 4);
      checkMessages(p.received);
      assert.equal(p.writes() - before, 5);
    } finally {
      p.destroy();
    }
  });

  it('does not hold back a lone frame, and a close follows the frames before it', async () => {
    const p = await pair(server, port);
    try {
      p.sender.coalesceWrites();
      p.sender.sendText('alone');
      await p.until(() => p.received.length === 1);
      p.sender.sendText('before close');
      p.sender.close(1000, 'bye');
      await p.until(() => p.closed.peerClosed);
      assert.deepEqual(p.received.map((m) => m.data.toString()), ['alone', 'before close']);
      assert.deepEqual([p.closed.code, p.closed.reason], [1000, 'bye']);
    } finally {
      p.destroy();
    }
  });
});
