/**
 * relay-sender port-forward sends the client's first bytes right behind aztunnel's JSON envelope,
 * without waiting for the listener's response (forwarding/early-bytes.ts), against a byte-level
 * aztunnel listener: it reads the envelope (one text message), dials its target, answers with one
 * text message, and only then copies the binary messages that follow (reference
 * aztunnel-and-peers.md §1.3.2), so early bytes wait in the WebSocket. Proven by what the peer
 * records: the first binary message was there before it answered. A connection lost before the
 * answer is retried with those bytes replayed, each byte reaching the target exactly once
 * (SHA-256); a listener that refuses the target fails the client cleanly.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { connect as tcpConnect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { HybridConnectionListener, type HybridConnectionStream } from '../../src/client/index.js';
import { withTimeout } from '../helpers/async.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { stopAll } from '../helpers/processes.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { startPortForward, type LocalSender } from './tunnel-kit.js';

const AZTUNNEL_READ_LIMIT = 32 * 1024;
/** How long the peer waits for an early message before it answers anyway (a waiting sender sends none). */
const EARLY_WAIT_MS = 2000;

interface Served {
  envelope: string;
  /** Bytes of the first binary message, when it came before the answer (0 otherwise). */
  earlyBytes: number;
}

interface Peer {
  listener: HybridConnectionListener;
  served: Served[];
  /** Connections given up before answering, and the bytes that had come behind their envelope. */
  lost: number[];
}

/**
 * A target that reads one request (its first 4 bytes give its whole length), answers the request's
 * SHA-256 in hex and ends; it records each request's digest.
 */
async function digestTarget(): Promise<{ server: Server; port: number; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((socket: Socket) => {
    socket.on('error', () => undefined);
    const hash = createHash('sha256');
    let have = 0;
    let want = Infinity;
    let head = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      if (have < 4) head = Buffer.concat([head, chunk.subarray(0, 4 - have)]);
      if (head.length === 4) want = head.readUInt32BE(0);
      hash.update(chunk);
      have += chunk.length;
      if (have >= want) {
        const hex = hash.digest('hex');
        requests.push(hex);
        socket.end(hex);
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port, requests };
}

/**
 * An aztunnel listener: envelope, dial, answer `{"version":1,"ok":true,...}` (no half_close),
 * then whole messages both ways until the target ends, then Close 1000 "done". `loseFirst`: the
 * first connection is closed after its envelope (and whatever followed it) without an answer;
 * `refuse`: every target is answered "connection failed" / connection_refused.
 */
async function aztunnelListener(relay: TestRelay, hyco: string, targetPort: number, behaviour: { loseFirst?: boolean; refuse?: boolean } = {}): Promise<Peer> {
  const listener = new HybridConnectionListener({ connectionString: relay.connectionString(hyco) });
  const peer: Peer = { listener, served: [], lost: [] };
  let index = 0;
  listener.on('connection', (stream: HybridConnectionStream) => {
    const n = index++;
    stream.on('error', () => undefined);
    void (async () => {
      const first = await stream.readMessage(30_000);
      if (!first || first.binary) return stream.destroy();
      const envelope = first.data.toString();
      if (behaviour.refuse) {
        await stream.sendMessage('{"version":1,"ok":false,"error":"connection failed","code":"connection_refused"}');
        stream.close(1000, 'done');
        return;
      }
      const socket = tcpConnect({ host: '127.0.0.1', port: targetPort });
      socket.on('error', () => stream.destroy());
      await once(socket, 'connect');
      const early = await stream.readMessage(EARLY_WAIT_MS).catch(() => undefined);
      if (behaviour.loseFirst && n === 0) {
        peer.lost.push(early?.data.length ?? 0);
        socket.destroy();
        stream.close(1000, 'done');
        return;
      }
      peer.served.push({ envelope, earlyBytes: early?.data.length ?? 0 });
      await stream.sendMessage('{"version":1,"ok":true,"listener_id":"PEERLISTENER2345"}');
      if (early) socket.write(early.data);
      socket.on('data', (chunk: Buffer) => {
        for (let offset = 0; offset < chunk.length; offset += AZTUNNEL_READ_LIMIT) void stream.sendMessage(chunk.subarray(offset, offset + AZTUNNEL_READ_LIMIT)).catch(() => undefined);
      });
      socket.once('end', () => stream.close(1000, 'done'));
      for (;;) {
        const m = await stream.readMessage(30_000).catch(() => undefined);
        if (!m) return socket.destroy();
        assert.ok(m.data.length <= AZTUNNEL_READ_LIMIT, 'no message over aztunnel\'s read limit');
        socket.write(m.data);
      }
    })().catch(() => stream.destroy());
  });
  await listener.open();
  return peer;
}

/** Connects, writes `request`, and reads until the tunnel ends (aztunnel carries no half-close). */
function ask(port: number, request: Buffer): Promise<{ answer: string; closed: boolean }> {
  return withTimeout(
    new Promise((resolve, reject) => {
      const socket = tcpConnect({ host: '127.0.0.1', port });
      const parts: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => parts.push(chunk));
      socket.once('close', () => resolve({ answer: Buffer.concat(parts).toString(), closed: true }));
      socket.once('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNREFUSED' ? reject(err) : undefined));
      socket.once('connect', () => socket.write(request));
    }),
    20_000,
    'a request through the tunnel',
  );
}

function lengthPrefixed(body: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length + 4);
  return Buffer.concat([head, body]);
}

describe('relay-sender: first bytes behind the envelope (byte-level aztunnel listener)', { timeout: 90_000 }, () => {
  let relay: TestRelay;
  let target: Awaited<ReturnType<typeof digestTarget>>;
  const peers: Record<string, Peer> = {};
  const senders: Record<string, LocalSender> = {};

  before(async () => {
    relay = await startRelay({ hybridConnections: ['env-pipe', 'env-lost', 'env-refused'] });
    target = await digestTarget();
    peers.pipe = await aztunnelListener(relay, 'env-pipe', target.port);
    peers.lost = await aztunnelListener(relay, 'env-lost', target.port, { loseFirst: true });
    peers.refused = await aztunnelListener(relay, 'env-refused', target.port, { refuse: true });
    senders.pipe = await startPortForward(relay, 'env-pipe', '10.0.0.5:80');
    senders.lost = await startPortForward(relay, 'env-lost', '10.0.0.5:80');
    senders.refused = await startPortForward(relay, 'env-refused', '10.0.0.5:80');
  });
  after(async () => {
    await stopAll();
    for (const peer of Object.values(peers)) await peer.listener.close();
    target?.server.close();
    await relay?.stop();
  });

  it('the first bytes are in the listener\'s hands before it answers; the envelope is unchanged', async () => {
    const request = lengthPrefixed(patternBytes(20_000, 41));
    const { answer } = await ask(senders.pipe!.port, request);
    assert.equal(answer, sha256(request));
    const served = peers.pipe!.served.at(-1)!;
    assert.equal(served.earlyBytes, request.length, 'the whole request came behind the envelope, before the answer');
    assert.match(served.envelope, /^\{"version":1,"target":"10\.0\.0\.5:80","bridge_id":"[A-Z2-7]{16}","half_close":true\}$/);
  });

  it('a connection lost before the answer is retried with the early bytes replayed: each byte reaches the target once', async () => {
    // 100 KiB: more than the 64 KiB kept for a replay, and in messages of at most 32 KiB.
    const request = lengthPrefixed(patternBytes(100 * 1024, 42));
    const before = target.requests.length;
    const { answer } = await ask(senders.lost!.port, request);
    assert.equal(answer, sha256(request));
    assert.deepEqual(target.requests.slice(before), [sha256(request)], 'one request at the target, intact');
    assert.equal(peers.lost!.lost.length, 1);
    assert.ok(peers.lost!.lost[0]! > 0, 'early bytes had been sent on the lost connection');
    assert.ok(peers.lost!.served.at(-1)!.earlyBytes > 0, 'and were sent again behind the retry\'s envelope');
    await senders.lost!.proc.waitForOutput(/relayed connection lost before the listener answered; trying again/, 5000);
  });

  it('a listener that refuses the target: the client\'s connection closes with nothing sent back', async () => {
    const before = target.requests.length;
    const { answer, closed } = await ask(senders.refused!.port, lengthPrefixed(patternBytes(1000, 43)));
    assert.deepEqual([answer, closed], ['', true]);
    assert.equal(target.requests.length, before, 'nothing reached the target');
    await senders.refused!.proc.waitForOutput(/connection_refused|connection refused/, 5000);
    assert.equal(senders.refused!.proc.child.exitCode, null, 'the sender carries on');
  });
});
