/**
 * bridge -L sends the client's first bytes right behind the azbridge preamble, without waiting for
 * the reply (forwarding/early-bytes.ts), against byte-level azbridge remote sides that read the
 * preamble, dial their target, then reply (hybridge's own -T order; azbridge itself replies before
 * it dials, and reads what follows only once its target is connected, so early bytes wait in the
 * WebSocket either way). Proven by what the peer records: the client's bytes had reached its target
 * before the reply was written. A refusal followed by a retry on another listener replays them:
 * every byte arrives exactly once (SHA-256). A refusal with no listener left fails the client cleanly.
 */
import assert from 'node:assert/strict';
import { connect as tcpConnect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { HybridConnectionListener, type HybridConnectionStream } from '../../src/client/index.js';
import { encodePreambleReply } from '../../src/protocol/azbridge-preamble.js';
import { withListenerId } from '../../src/protocol/port-announcement.js';
import { freePort, waitFor } from '../helpers/async.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { stopAll, type RunningProcess } from '../helpers/processes.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { readExactly } from '../shared/read-exactly.js';
import { closeAll, digestOf, exchange, expectClosed, startBridge, startEchoTarget, track, type TcpTarget } from './bridge-kit.js';

interface Served {
  preamble: Buffer;
  /** Bytes the target had received when the peer wrote its reply (0 when none came before it). */
  atTargetBeforeReply: number;
}

interface Peer {
  listener: HybridConnectionListener;
  served: Served[];
  /** Bytes that came behind the preamble of each refused connection. */
  heldWhenRefused: number[];
}

/** How long a peer waits for early bytes before it replies anyway (a sender that waits for the reply sends none). */
const EARLY_WAIT_MS = 2000;

/**
 * An azbridge-style remote side: reads `01 00 mode len name` as bytes, then either refuses
 * (`refuse`: `00 00 FE` with its listener id, as a hybridge -T that does not serve the port) or dials
 * `target`, starts copying the stream to it, and writes `01 00 00` once the target holds a byte (or
 * EARLY_WAIT_MS passed), then copies the target's bytes back.
 */
async function remoteSide(relay: TestRelay, hyco: string, behaviour: { target?: TcpTarget; refuse?: boolean }): Promise<Peer> {
  const listener = new HybridConnectionListener({ connectionString: relay.connectionString(hyco) });
  const peer: Peer = { listener, served: [], heldWhenRefused: [] };
  listener.on('connection', (stream: HybridConnectionStream) => {
    stream.on('error', () => undefined);
    void (async () => {
      const head = await readExactly(stream, 4);
      const preamble = Buffer.concat([head, await readExactly(stream, head[3]!)]);
      if (behaviour.refuse) {
        let held = 0;
        stream.on('data', (chunk: Buffer) => (held += chunk.length));
        stream.resume();
        await new Promise((resolve) => setTimeout(resolve, 300));
        peer.heldWhenRefused.push(held);
        stream.end(encodePreambleReply({ kind: 'unknown-port-name', reason: withListenerId('no port here', listener.listenerId) }));
        return;
      }
      const socket: Socket = tcpConnect({ host: '127.0.0.1', port: behaviour.target!.port, allowHalfOpen: true });
      socket.on('error', () => stream.destroy());
      await new Promise((resolve) => socket.once('connect', resolve));
      let atTarget = 0;
      stream.on('data', (chunk: Buffer) => (atTarget += chunk.length));
      stream.pipe(socket);
      const started = Date.now();
      while (atTarget === 0 && Date.now() - started < EARLY_WAIT_MS) await new Promise((resolve) => setTimeout(resolve, 10));
      peer.served.push({ preamble, atTargetBeforeReply: atTarget });
      stream.write(Buffer.from([1, 0, 0]));
      socket.pipe(stream);
    })().catch(() => stream.destroy());
  });
  await listener.open();
  return track({ ...peer, close: () => listener.close() });
}

describe('bridge -L: first bytes behind the preamble (byte-level azbridge remote sides)', { timeout: 90_000 }, () => {
  let relay: TestRelay;
  let target: TcpTarget;
  let plain: Peer;
  let refusing: Peer;
  let accepting: Peer;
  let bridge: RunningProcess;
  const ports = { plain: 0, retry: 0, refused: 0 };

  before(async () => {
    relay = await startRelay({ hybridConnections: ['pipe', 'pipe-retry', 'pipe-refused'] });
    target = await startEchoTarget();
    plain = await remoteSide(relay, 'pipe', { target });
    refusing = await remoteSide(relay, 'pipe-retry', { refuse: true });
    accepting = await remoteSide(relay, 'pipe-retry', { target });
    await remoteSide(relay, 'pipe-refused', { refuse: true });
    ports.plain = await freePort();
    ports.retry = await freePort();
    ports.refused = await freePort();
    bridge = await startBridge(['-x', relay.connectionString(), '-L', `${ports.plain}:pipe`, '-L', `${ports.retry}:pipe-retry`, '-L', `${ports.refused}:pipe-refused`]);
  });
  after(async () => {
    await stopAll();
    await closeAll();
    await relay?.stop();
  });

  it('the client\'s first bytes reach the target before the peer writes its reply; the preamble is byte for byte azbridge\'s', async () => {
    const payload = patternBytes(1000, 31);
    const result = await exchange({ port: ports.plain }, payload);
    assert.deepEqual([result.length, result.sha256], [payload.length, sha256(payload)]);
    const served = plain.served.at(-1)!;
    const name = Buffer.from(String(ports.plain));
    assert.deepEqual(served.preamble, Buffer.concat([Buffer.from([1, 0, 0, name.length]), name]));
    assert.equal(served.atTargetBeforeReply, payload.length, 'every byte was at the target before the reply');
    await waitFor(() => target.received.length > 0, 5000, 'the target saw the end');
    assert.deepEqual(target.received.at(-1), digestOf(payload));
  });

  it('a refused preamble, then a retry on another listener: every byte arrives exactly once', async () => {
    // 200 KiB: more than the 64 KiB kept for a replay, so the rest follows from the socket.
    const payload = patternBytes(200 * 1024 + 17, 32);
    for (let i = 0; i < 3; i++) {
      const before = target.received.length;
      const result = await exchange({ port: ports.retry }, payload);
      assert.deepEqual([result.length, result.sha256], [payload.length, sha256(payload)], `connection ${i} echoed`);
      await waitFor(() => target.received.length === before + 1, 5000, 'one target connection per client connection');
      assert.deepEqual(target.received.at(-1), digestOf(payload), `connection ${i}: the target got each byte once`);
    }
    assert.ok(refusing.heldWhenRefused.length >= 1, 'round robin sent at least one connection to the refusing listener first');
    assert.ok(refusing.heldWhenRefused.every((n) => n > 0), `early bytes were sent to the refusing listener too (${refusing.heldWhenRefused.join(', ')})`);
    assert.ok(accepting.served.every((s) => s.atTargetBeforeReply > 0), 'and replayed behind the retry\'s preamble');
    assert.match(bridge.output(), /listener does not serve this port; trying another listener/);
  });

  it('a refusal with no other listener to try closes the client\'s connection with nothing sent back', async () => {
    const closed = await expectClosed(ports.refused);
    assert.equal(closed.received, 0);
    await bridge.waitForOutput(/connection failed[^\n]*end=unknown-port/, 10_000);
    assert.equal(bridge.child.exitCode, null, 'the bridge carries on');
  });
});
