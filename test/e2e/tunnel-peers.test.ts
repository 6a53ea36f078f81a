/**
 * Byte-level compatibility with aztunnel (reference aztunnel-and-peers.md §1.3.2). Test peers stand
 * in for aztunnel's ends by writing and reading exactly what they do:
 *  - an aztunnel sender (one text envelope, one text response, then binary messages of at most
 *    32 KiB) is served by our relay-listener process;
 *  - an aztunnel listener (reads the envelope, answers ok or "connection failed" + code, echoes
 *    binary messages and closes with 1000 "done", and rejects any message over 32 KiB as
 *    coder/websocket does) serves our port-forward, socks5-proxy and connect processes.
 * And an azbridge sender (binary preamble) is served by relay-listener --bridge-target.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HybridConnectionClient, HybridConnectionListener, type HybridConnectionStream } from '../../src/client/index.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import type { TestRelay } from '../helpers/relay.js';
import { echoServer, exchange, KiB, MiB, roundTrip, runConnect, runConnectWithoutInput, socks5Connect, startListener, startPortForward, startSocks, useTunnelSuite, type TestServer } from '../tunnel/tunnel-kit.js';

const HYCOS = ['peer-sender', 'peer-listener', 'peer-azbridge'];
const AZTUNNEL_READ_LIMIT = 32 * 1024;
const PEER_LISTENER_ID = 'PEERLISTENER2345';

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
    assert.match(text, /^\{"version":1,"ok":true,"listener_id":"[A-Z2-7]{16}"\}$/);
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

  describe('our senders against an aztunnel listener', () => {
    let peer: HybridConnectionListener;
    const envelopes: string[] = [];
    const oversized: number[] = [];
    before(async () => {
      peer = new HybridConnectionListener({ connectionString: relay.connectionString('peer-listener') });
      peer.on('connection', (stream) => void servePeer(stream));
      await peer.open();
    });
    after(() => peer.close());

    /** What aztunnel's listener does, from its source: answer, then copy whole messages; 1000 "done". */
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
      for (;;) {
        const m = await stream.readMessage(30_000);
        if (!m) break;
        if (m.data.length > AZTUNNEL_READ_LIMIT) {
          oversized.push(m.data.length);
          stream.close(1009, 'read limited at 32769 bytes');
          return;
        }
        await stream.sendMessage(m.data);
      }
      stream.close(1000, 'done');
    }

    it('port-forward: envelope byte for byte, data in messages of at most 32 KiB', async () => {
      const pf = await startPortForward(relay, 'peer-listener', '10.0.0.5:22');
      const payload = patternBytes(2 * MiB + 9, 112);
      const result = await roundTrip(pf.port, payload);
      assert.equal(result.received.length, payload.length);
      assert.equal(result.sha256, sha256(payload));
      assert.match(envelopes.at(-1)!, /^\{"version":1,"target":"10\.0\.0\.5:22","bridge_id":"[A-Z2-7]{16}"\}$/);
      assert.deepEqual(oversized, [], 'no message over aztunnel\'s read limit');
    });

    it('connect: carries stdin/stdout, and reports the listener\'s connection_refused', async () => {
      const payload = patternBytes(300 * KiB, 113);
      const ok = await runConnect(relay, 'peer-listener', '[fd00::5]:22', payload, 15_000);
      assert.equal(ok.code, 0, ok.proc.output());
      assert.equal(sha256(ok.stdout), sha256(payload));
      assert.match(envelopes.at(-1)!, /^\{"version":1,"target":"\[fd00::5\]:22","bridge_id":"[A-Z2-7]{16}"\}$/);

      const refused = await runConnectWithoutInput(relay, 'peer-listener', '10.0.0.5:23', 15_000);
      assert.equal(refused.code, 1);
      assert.match(refused.output, /^hybridge: relay-sender connect: target 10\.0\.0\.5:23 refused the connection \(connection_refused\)\n$/);
    });

    it('socks5-proxy: success carries bytes, connection_refused becomes reply 0x05', async () => {
      const socks = await startSocks(relay, 'peer-listener');
      const good = await socks5Connect(socks.port, { type: 'domain', host: 'db.internal', port: 22 });
      assert.equal(good.reply, 0);
      const payload = patternBytes(200 * KiB, 114);
      assert.equal((await exchange(good.socket, payload)).sha256, sha256(payload));
      assert.match(envelopes.at(-1)!, /^\{"version":1,"target":"db\.internal:22","bridge_id":"[A-Z2-7]{16}"\}$/);
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
    assert.match(answer!.data.toString(), /^\{"version":1,"ok":true,"listener_id":"[A-Z2-7]{16}"\}$/, 'and tunnels on the same hybrid connection');
    tunnel.destroy();
  });
});
