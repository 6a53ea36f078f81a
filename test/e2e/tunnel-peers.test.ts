/**
 * Byte-level compatibility with aztunnel (reference aztunnel-and-peers.md §1.3.2). Test peers stand
 * in for aztunnel's ends by writing and reading exactly what they do:
 *  - an aztunnel sender (one text envelope, one text response, then binary messages of at most
 *    32 KiB) is served by our relay-listener process;
 *  - an aztunnel listener (reads the envelope, answers ok or "connection failed" + code, echoes
 *    binary messages and closes with 1000 "done", and rejects any message over 32 KiB as
 *    coder/websocket does) serves our port-forward, socks5-proxy and connect processes.
 * And an azbridge sender (binary preamble) is served by relay-listener --bridge-target.
 *
 * aztunnel has no half-close: its listener ends the whole tunnel on a Close, and its sender ends by
 * dropping the connection without one. hybridge ends say `"half_close":true` in the envelope and the
 * response; towards an end that does not, they neither send a Close that would cut the reply, nor
 * take the missing Close for a lost tunnel.
 */
import assert from 'node:assert/strict';
import { createConnection } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { HybridConnectionClient, HybridConnectionListener, type HybridConnectionStream } from '../../src/client/index.js';
import { once } from 'node:events';
import WebSocket from 'ws';
import { waitFor, withTimeout } from '../helpers/async.js';
import { Digest, patternBytes, sha256 } from '../helpers/data.js';
import type { TestRelay } from '../helpers/relay.js';
import {
  echoServer,
  exchange,
  KiB,
  MiB,
  roundTrip,
  runConnect,
  runConnectWithoutInput,
  socks5Connect,
  startListener,
  startPortForward,
  startSocks,
  tcpServer,
  useTunnelSuite,
  type TestServer,
} from '../tunnel/tunnel-kit.js';

const HYCOS = ['peer-sender', 'peer-listener', 'peer-azbridge', 'peer-no-close'];
const AZTUNNEL_READ_LIMIT = 32 * 1024;
const PEER_LISTENER_ID = 'PEERLISTENER2345';
/** What the request/response target behind the aztunnel listener answers (the issue measured 1 MiB). */
const REPLY = patternBytes(MiB, 117);

/** A request whose first 4 bytes give its whole length, so the target knows when it is complete. */
function lengthPrefixed(body: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length + 4);
  return Buffer.concat([head, body]);
}

/** Writes `payload`, reads as many bytes back, then hangs up (for targets that never end on their own). */
function echoWithoutEnd(port: number, payload: Buffer): Promise<Buffer> {
  return withTimeout(
    new Promise<Buffer>((resolve, reject) => {
      const socket = createConnection({ host: '127.0.0.1', port });
      const chunks: Buffer[] = [];
      let size = 0;
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.length;
        if (size >= payload.length) {
          socket.destroy();
          resolve(Buffer.concat(chunks));
        }
      });
      socket.once('error', reject);
      socket.write(payload);
    }),
    30_000,
    'echo through an aztunnel listener',
  );
}

/** Reads whole messages until the sender closes its direction or `total` bytes came. */
async function readBinaryMessages(stream: HybridConnectionStream, total: number): Promise<{ data: Buffer; largest: number }> {
  const parts: Buffer[] = [];
  let size = 0;
  let largest = 0;
  while (size < total) {
    const m = await stream.readMessage(10_000);
    if (!m) break;
    assert.equal(m.binary, true, 'data messages are binary');
    largest = Math.max(largest, m.data.length);
    parts.push(m.data);
    size += m.data.length;
  }
  return { data: Buffer.concat(parts), largest };
}

describe('byte-level compatibility with aztunnel ends', () => {
  let relay: TestRelay;
  let echo: TestServer;
  useTunnelSuite(HYCOS, (suite) => ({ relay, echo } = suite));

  it('our relay-listener serves what an aztunnel sender sends', async () => {
    const closed = await echoServer();
    const closedPort = closed.port;
    await closed.close();
    await startListener(relay, 'peer-sender', ['--allow', '127.0.0.1:*', '--allow', 'localhost:1']);
    const client = new HybridConnectionClient({ connectionString: relay.connectionString('peer-sender') });
    const open = async (target: string) => {
      const stream = await client.createConnection({ retryBudgetMs: 5000 });
      stream.on('error', () => undefined);
      await stream.sendMessage(`{"version":1,"target":"${target}","bridge_id":"MFRGGZDFMZTWQ2LK"}`);
      const answer = await stream.readMessage(10_000);
      assert.ok(answer && !answer.binary, 'one text response');
      return { stream, text: answer.data.toString() };
    };

    const { stream, text } = await open(`127.0.0.1:${echo.port}`);
    assert.match(text, /^\{"version":1,"ok":true,"listener_id":"[A-Z2-7]{16}","half_close":true\}$/, 'aztunnel ignores the unknown half_close field');
    const payload = patternBytes(MiB + 5, 111);
    for (let offset = 0; offset < payload.length; offset += 32 * KiB) await stream.sendMessage(payload.subarray(offset, offset + 32 * KiB));
    const back = await readBinaryMessages(stream, payload.length);
    assert.equal(back.data.length, payload.length);
    assert.equal(sha256(back.data), sha256(payload));
    assert.ok(back.largest <= AZTUNNEL_READ_LIMIT, `a ${back.largest}-byte message would break an aztunnel sender`);
    stream.close(1000, '');

    const refused = await open(`127.0.0.1:${closedPort}`);
    assert.match(refused.text, /^\{"version":1,"ok":false,"error":"connection failed","code":"connection_refused","listener_id":"[A-Z2-7]{16}"\}$/);
    const denied = await open('127.0.0.2:22');
    assert.match(denied.text, /^\{"version":1,"ok":false,"error":"target not allowed","listener_id":"[A-Z2-7]{16}"\}$/);
    assert.equal(await denied.stream.readMessage(5000), undefined);
    assert.equal(denied.stream.closeCode, 1000);
  });

  it('an aztunnel sender that drops its connection without a Close: every byte reaches the target, and the tunnel ends clean', async () => {
    const received = new Digest();
    let targetEnded = false;
    const sink = await tcpServer((socket) => {
      socket.on('data', (chunk: Buffer) => received.update(chunk));
      socket.on('end', () => {
        targetEnded = true;
        socket.end();
      });
    });
    const listener = await startListener(relay, 'peer-no-close', ['--allow', `127.0.0.1:${sink.port}`]);
    // coder/websocket's CloseNow(), as aztunnel's sender calls when its client is done: the TCP
    // connection ends with no Close frame, and the relay tells the listener 1001.
    const url = `${relay.wsBase}/$hc/peer-no-close?sb-hc-action=connect&sb-hc-token=${encodeURIComponent(relay.token('peer-no-close'))}`;
    const ws = new WebSocket(url, { perMessageDeflate: false });
    await withTimeout(once(ws, 'open'), 10_000, 'the sender\'s rendezvous');
    ws.send(`{"version":1,"target":"127.0.0.1:${sink.port}","bridge_id":"MFRGGZDFMZTWQ2LK"}`);
    const [answer] = (await withTimeout(once(ws, 'message'), 10_000, 'the listener\'s response')) as [Buffer];
    assert.match(answer.toString(), /"ok":true/);
    const payload = patternBytes(MiB + 77, 118);
    for (let offset = 0; offset < payload.length; offset += 32 * KiB) ws.send(payload.subarray(offset, offset + 32 * KiB));
    await waitFor(() => ws.bufferedAmount === 0, 10_000, 'the sender flushed its data');
    (ws as unknown as { _socket: import('node:net').Socket })._socket.end();
    await waitFor(() => targetEnded, 15_000, 'the target sees the end of the data');
    assert.deepEqual([received.length, received.hex()], [payload.length, sha256(payload)]);
    const closed = await listener.waitForOutput(/INFO\s+connection ended [^\n]*halfClose=false[^\n]*bytesToListener=(\d+)/);
    assert.equal(Number(closed[1]), payload.length);
    assert.doesNotMatch(listener.output(), /ended abruptly/);
    ws.terminate();
    await sink.close();
  });

  describe('our senders against an aztunnel listener', () => {
    let peer: HybridConnectionListener;
    const envelopes: string[] = [];
    const oversized: number[] = [];
    const requests: { length: number; sha256: string }[] = [];
    before(async () => {
      peer = new HybridConnectionListener({ connectionString: relay.connectionString('peer-listener') });
      peer.on('connection', (stream) => void servePeer(stream));
      await peer.open();
    });
    after(() => peer.close());

    /**
     * What aztunnel's listener does, from its source: answer (no half_close: it has none), then copy
     * whole messages between the relay and its target until either side ends, and close with 1000
     * "done". A Close from the sender ends the whole tunnel at once: whatever the target still had
     * to send is cut, as Bridge() cancels the other direction. Targets stand in by port: 22 echoes
     * (and never ends on its own), 80 reads a request (a 4-byte length, then that many bytes in all)
     * and answers REPLY then ends, 23 refuses the connection.
     */
    async function servePeer(stream: HybridConnectionStream): Promise<void> {
      stream.on('error', () => undefined);
      const first = await stream.readMessage(30_000);
      if (!first) return;
      assert.equal(first.binary, false, 'the envelope is a text message');
      const envelope = first.data.toString();
      envelopes.push(envelope);
      const { target } = JSON.parse(envelope) as { target: string };
      if (target.endsWith(':23')) {
        await stream.sendMessage('{"version":1,"ok":false,"error":"connection failed","code":"connection_refused"}');
        stream.close(1000, 'done');
        return;
      }
      await stream.sendMessage(`{"version":1,"ok":true,"listener_id":"${PEER_LISTENER_ID}"}`);
      let cut = false;
      let request = Buffer.alloc(0);
      let replying: Promise<void> | undefined;
      const reply = async () => {
        for (let offset = 0; offset < REPLY.length && !cut; offset += AZTUNNEL_READ_LIMIT) {
          await stream.sendMessage(REPLY.subarray(offset, offset + AZTUNNEL_READ_LIMIT)).catch(() => (cut = true));
          await new Promise((resolve) => setImmediate(resolve));
        }
        // The target ended: the tunnel ends, with 1000 "done".
        if (!cut) stream.close(1000, 'done');
      };
      for (;;) {
        const m = await stream.readMessage(30_000).catch(() => undefined);
        if (!m) {
          // The sender's Close (or its connection) ended the tunnel: the target's reply is cut.
          cut = true;
          stream.close(1000, 'done');
          return;
        }
        if (m.data.length > AZTUNNEL_READ_LIMIT) {
          oversized.push(m.data.length);
          cut = true;
          stream.close(1009, 'read limited at 32769 bytes');
          return;
        }
        if (target.endsWith(':80')) {
          request = Buffer.concat([request, m.data]);
          if (!replying && request.length >= 4 && request.length >= request.readUInt32BE(0)) {
            requests.push({ length: request.length, sha256: sha256(request) });
            replying = reply();
          }
        } else await stream.sendMessage(m.data);
      }
    }

    it('port-forward: envelope byte for byte, data in messages of at most 32 KiB', async () => {
      const pf = await startPortForward(relay, 'peer-listener', '10.0.0.5:22');
      const payload = patternBytes(2 * MiB + 9, 112);
      // The echo never ends and aztunnel cannot pass an end on: read what comes back, then hang up.
      const echoed = await echoWithoutEnd(pf.port, payload);
      assert.equal(echoed.length, payload.length);
      assert.equal(sha256(echoed), sha256(payload));
      assert.match(envelopes.at(-1)!, /^\{"version":1,"target":"10\.0\.0\.5:22","bridge_id":"[A-Z2-7]{16}","half_close":true\}$/);
      assert.deepEqual(oversized, [], 'no message over aztunnel\'s read limit');
    });

    it('port-forward: a client that half-closes after its request gets the whole reply (no Close reaches the aztunnel listener)', async () => {
      const pf = await startPortForward(relay, 'peer-listener', '10.0.0.5:80');
      const request = lengthPrefixed(patternBytes(300 * KiB, 116));
      const result = await roundTrip(pf.port, request);
      assert.deepEqual(requests.at(-1), { length: request.length, sha256: sha256(request) }, 'the target got the whole request');
      assert.equal(result.received.length, REPLY.length, `${result.received.length} of ${REPLY.length} reply bytes`);
      assert.equal(result.sha256, sha256(REPLY));
    });

    it('connect: stdin to the end and the whole reply on stdout; the listener\'s connection_refused', async () => {
      const request = lengthPrefixed(patternBytes(100 * KiB, 113));
      const ok = await runConnect(relay, 'peer-listener', '[fd00::5]:80', request, 15_000);
      assert.equal(ok.code, 0, ok.proc.output());
      assert.equal(ok.stdout.length, REPLY.length);
      assert.equal(sha256(ok.stdout), sha256(REPLY));
      assert.deepEqual(requests.at(-1), { length: request.length, sha256: sha256(request) });
      assert.match(envelopes.at(-1)!, /^\{"version":1,"target":"\[fd00::5\]:80","bridge_id":"[A-Z2-7]{16}","half_close":true\}$/);

      const refused = await runConnectWithoutInput(relay, 'peer-listener', '10.0.0.5:23', 15_000);
      assert.equal(refused.code, 1);
      assert.match(refused.output, /^hybridge: relay-sender connect: target 10\.0\.0\.5:23 refused the connection \(connection_refused\)\n$/);
    });

    it('socks5-proxy: success carries bytes, connection_refused becomes reply 0x05', async () => {
      const socks = await startSocks(relay, 'peer-listener');
      const good = await socks5Connect(socks.port, { type: 'domain', host: 'db.internal', port: 80 });
      assert.equal(good.reply, 0);
      const request = lengthPrefixed(patternBytes(200 * KiB, 114));
      assert.equal((await exchange(good.socket, request)).sha256, sha256(REPLY));
      assert.match(envelopes.at(-1)!, /^\{"version":1,"target":"db\.internal:80","bridge_id":"[A-Z2-7]{16}","half_close":true\}$/);
      const refused = await socks5Connect(socks.port, { type: 'ipv4', host: '10.0.0.5', port: 23 });
      assert.equal(refused.reply, 0x05);
      refused.socket.destroy();
      assert.deepEqual(oversized, []);
    });
  });

  it('relay-listener --bridge-target serves an azbridge sender (binary preamble) on the same hybrid connection', async () => {
    await startListener(relay, 'peer-azbridge', ['--allow', `127.0.0.1:${echo.port}`, '--bridge-target', `ssh/127.0.0.1:${echo.port}`]);
    const client = new HybridConnectionClient({ connectionString: relay.connectionString('peer-azbridge') });
    const stream = await client.createConnection({ retryBudgetMs: 5000 });
    stream.on('error', () => undefined);
    await stream.sendMessage(Buffer.from([1, 0, 0, 3, ...Buffer.from('ssh')]));
    const reply = await stream.readMessage(10_000);
    assert.deepEqual([...reply!.data], [1, 0, 0], 'accepted: 01 00 mode');
    const payload = patternBytes(256 * KiB, 115);
    await stream.sendMessage(payload);
    const back = await readBinaryMessages(stream, payload.length);
    assert.equal(sha256(back.data), sha256(payload));
    stream.destroy();

    const tunnel = await client.createConnection({ retryBudgetMs: 5000 });
    tunnel.on('error', () => undefined);
    await tunnel.sendMessage(`{"version":1,"target":"127.0.0.1:${echo.port}"}`);
    const answer = await tunnel.readMessage(10_000);
    assert.match(answer!.data.toString(), /^\{"version":1,"ok":true,"listener_id":"[A-Z2-7]{16}","half_close":true\}$/, 'and tunnels on the same hybrid connection');
    tunnel.destroy();
  });
});
