/**
 * A relayed stream read as bytes passes on what one network read carried as one chunk, even when
 * that read held the end of one frame, a control frame and the start of the next: the bytes arrive
 * intact and in order, never more chunks than reads.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { HybridConnectionStream } from '../../src/client/hybrid-connection-stream.js';
import { encodeFrame, encodeSmallFrame, Opcode } from '../../src/protocol/websocket-frame.js';
import { WsConnection } from '../../src/websocket/connection.js';
import { patternBytes, sha256 } from '../helpers/data.js';

describe('HybridConnectionStream read pieces', () => {
  it('frames cut across reads come out whole and in order, at most one chunk per read', async () => {
    const server = createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    const accepted = once(server, 'connection') as Promise<[Socket]>;
    const clientSocket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    await once(clientSocket, 'connect');
    const [serverSocket] = await accepted;
    try {
      let reads = 0;
      clientSocket.on('data', () => reads++);
      const stream = new HybridConnectionStream(new WsConnection(clientSocket, { role: 'client', zeroMask: true }), { trackingId: 't' }, undefined, { keepAliveIntervalMs: 0 });
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      const ended = once(stream, 'end');
      // Frames of many sizes with pings between them, written as one byte stream cut at odd places.
      const payloads = [7, 300, 1, 70_000, 13, 4096, 200_000, 2].map((size, i) => patternBytes(size, i + 1));
      const wire: Buffer[] = [];
      for (const payload of payloads) {
        wire.push(...encodeFrame(true, Opcode.Binary, payload, 'none'));
        wire.push(encodeSmallFrame(Opcode.Ping, Buffer.from('p')));
      }
      wire.push(encodeSmallFrame(Opcode.Close, Buffer.from([0x03, 0xe8])));
      const bytes = Buffer.concat(wire);
      for (let offset = 0, step = 1; offset < bytes.length; offset += step, step = (step * 7 + 3) % 50_000) {
        serverSocket.write(bytes.subarray(offset, offset + step));
        if (step % 3 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      await ended;
      assert.equal(sha256(chunks), sha256(payloads));
      assert.ok(chunks.length <= reads, `${chunks.length} chunks from ${reads} reads`);
      stream.destroy();
    } finally {
      clientSocket.destroy();
      serverSocket.destroy();
      server.close();
    }
  });
});
