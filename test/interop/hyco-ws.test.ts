/**
 * Unmodified hyco-ws@1.0.5 (listener and sender) against the hybridge relay, over plain WebSocket
 * and over TLS with a self-signed certificate trusted only through NODE_EXTRA_CA_CERTS.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor, withTimeout } from '../helpers/async.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { peerBase, runHycoPeer, startHycoPeer } from './hyco-run.js';
import { echoPayload, loadHycoWs, messageBytes, type EchoMessage, type Ws1Socket, type WsEchoResult } from './hyco-types.js';

const MESSAGES: EchoMessage[] = [
  { type: 'text', size: 40, seed: 101 },
  { type: 'binary', size: 1, seed: 102 },
  { type: 'binary', size: 64 * 1024, seed: 103 },
  { type: 'binary', size: 16 * 1024 * 1024, seed: 104 },
  { type: 'text', size: 100_000, seed: 105 },
  { type: 'binary', size: 7, seed: 106 },
];

for (const tls of [false, true]) {
  describe(`hyco-ws listener and sender over ${tls ? 'TLS (wss, NODE_EXTRA_CA_CERTS)' : 'plain WebSocket (ws)'}`, () => {
    let relay: TestRelay;
    let result: WsEchoResult;

    before(async () => {
      relay = await startRelay({ tls, hybridConnections: ['echo'] });
      if (tls) assert.ok(relay.ca, 'a TLS relay hands out its certificate');
      result = await runHycoPeer<WsEchoResult>({ mode: 'ws-echo', ...peerBase(relay, 'echo', 30_000), messages: MESSAGES, protocols: ['chat', 'superchat'] }, relay.ca);
    });
    after(() => relay?.stop());

    it('echoes 1 B, 64 KiB and 16 MiB binary payloads byte for byte', () => {
      assert.equal(result.echoes.length, MESSAGES.length);
      MESSAGES.forEach((m, i) => {
        const expected = echoPayload(m);
        assert.equal(result.echoes[i]!.length, expected.length, `message ${i} length`);
        assert.equal(result.echoes[i]!.sha256, sha256(expected), `message ${i} SHA-256`);
      });
    });

    it('keeps text messages text and binary messages binary, in order', () => {
      assert.deepEqual(
        result.echoes.map((e) => e.type),
        MESSAGES.map((m) => m.type),
      );
    });

    it('gives listener and sender the first offered sub-protocol ("chat" of "chat, superchat")', () => {
      assert.equal(result.senderProtocol, 'chat');
      assert.equal(result.listenerProtocols[0], 'chat');
      // The second sender offered none, so its relayed socket has none either (JSON turns undefined into null).
      assert.equal(result.listenerProtocols[1] ?? undefined, undefined);
    });

    it('accepts a hyco-ws sender whose token travels in sb-hc-token', () => {
      assert.equal(result.queryTokenEcho, 'text:via sb-hc-token');
    });
  });
}

describe('hyco-ws over TLS without the relay certificate', () => {
  let relay: TestRelay;
  before(async () => {
    relay = await startRelay({ tls: true, hybridConnections: ['echo'] });
  });
  after(() => relay?.stop());

  it('cannot connect: the self-signed certificate is trusted only through NODE_EXTRA_CA_CERTS', async () => {
    await assert.rejects(
      runHycoPeer<WsEchoResult>({ mode: 'ws-echo', ...peerBase(relay, 'echo', 1500), messages: MESSAGES.slice(0, 1), protocols: [] }),
      /did not finish/,
    );
  });
});

/** A hyco-ws sender (in this process, plain ws) and the messages it got. */
interface TrackedSender {
  ws: Ws1Socket;
  owner: string;
  closed: boolean;
  inbox: (string | Buffer)[];
}

async function openTrackedSender(relay: TestRelay, entity: string): Promise<TrackedSender> {
  const WS = loadHycoWs();
  const ws = WS.relayedConnect(`${relay.wsBase}/$hc/${entity}?sb-hc-action=connect`, relay.token(entity));
  const sender: TrackedSender = { ws, owner: '', closed: false, inbox: [] };
  ws.on('message', (data: string | Buffer) => sender.inbox.push(data));
  ws.on('close', () => (sender.closed = true));
  ws.on('error', () => undefined);
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    }),
    5000,
    'hyco-ws sender open',
  );
  ws.send('who');
  await waitFor(() => sender.inbox.length > 0, 5000, 'reply naming the listener');
  const reply = sender.inbox.shift();
  assert.equal(typeof reply, 'string');
  sender.owner = String(reply).replace(/:who$/, '');
  return sender;
}

describe('two hyco-ws listeners sharing one hybrid connection', () => {
  let relay: TestRelay;
  const senders: TrackedSender[] = [];
  const listeners: ReturnType<typeof startHycoPeer>[] = [];

  before(async () => {
    relay = await startRelay({ hybridConnections: ['shared'] });
  });
  after(async () => {
    for (const s of senders) s.ws.terminate();
    for (const l of listeners) {
      await l.stop('SIGKILL', 1000);
      l.cleanup();
    }
    await relay?.stop();
  });

  it('spreads 20 senders over both; killing one leaves the other serving and its connections undisturbed', async () => {
    for (const name of ['A', 'B']) {
      const proc = startHycoPeer({ mode: 'ws-listener', ...peerBase(relay, 'shared', 60_000), name });
      listeners.push(proc);
      await proc.waitForOutput(new RegExp(`LISTENING ${name}`), 10_000);
    }
    await waitFor(() => relay.server.registry.count('shared') === 2, 5000, 'two listeners registered');

    for (let i = 0; i < 20; i++) senders.push(await openTrackedSender(relay, 'shared'));
    const onA = senders.filter((s) => s.owner === 'A');
    const onB = senders.filter((s) => s.owner === 'B');
    assert.equal(onA.length + onB.length, 20, `every sender reached a listener: ${senders.map((s) => s.owner).join(',')}`);
    assert.ok(onA.length >= 5 && onB.length >= 5, `load spread: A got ${onA.length}, B got ${onB.length}`);

    await listeners[0]!.stop('SIGKILL', 1000);
    await waitFor(() => relay.server.registry.count('shared') === 1, 5000, 'the killed listener leaves the registry');
    await waitFor(() => onA.every((s) => s.closed), 5000, "the killed listener's senders are closed");

    // B's connections were not touched: none closed, and each still carries a SHA-checked payload.
    assert.equal(onB.filter((s) => s.closed).length, 0, "no connection of the surviving listener was closed");
    for (const [i, s] of onB.entries()) {
      const payload = patternBytes(64 * 1024 + i, 500 + i);
      s.ws.send(payload, { binary: true });
      await waitFor(() => s.inbox.length > 0, 5000, 'echo from the surviving listener');
      const { type, bytes } = messageBytes(s.inbox.shift()!);
      assert.equal(type, 'binary');
      assert.equal(bytes.length, payload.length);
      assert.equal(sha256(bytes), sha256(payload));
    }

    // New senders all go to the survivor.
    for (let i = 0; i < 5; i++) {
      const s = await openTrackedSender(relay, 'shared');
      senders.push(s);
      assert.equal(s.owner, 'B');
    }
  });
});
