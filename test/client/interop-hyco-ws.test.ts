/**
 * Our client library against unmodified hyco-ws@1.0.5 through the hybridge relay: our listener
 * with a hyco-ws sender (relayedConnect, in this process), and a hyco-ws listener
 * (createRelayedServer) with our HybridConnectionClient. Plain WebSocket in process; over TLS
 * the hyco-ws listener runs in a child process that trusts the relay through NODE_EXTRA_CA_CERTS.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import type { HybridConnectionStream } from '../../src/client/index.js';
import { withTimeout } from '../helpers/async.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { peerBase, startHycoPeer } from '../interop/hyco-run.js';
import { loadHycoWs, type HycoWsServer, type Ws1Socket } from '../interop/hyco-types.js';
import { Cleanup, clientFor, digestOf, KiB, listenerFor, MiB, writeAll } from './fixtures.js';

const SIZES = [1, 64 * KiB, MiB, 16 * MiB];

/** Opens a hyco-ws sender (relayedConnect, or the constructor when a CA must be passed). */
async function hycoSender(relay: TestRelay, entity: string): Promise<Ws1Socket> {
  const WS = loadHycoWs();
  const address = `${relay.wsBase}/$hc/${entity}?sb-hc-action=connect`;
  const token = relay.token(entity);
  const ws = relay.ca ? new WS(address, null, { headers: { ServiceBusAuthorization: token }, ca: relay.ca } as { headers: Record<string, string> }) : WS.relayedConnect(address, token);
  ws.on('error', () => undefined);
  // once() rejects if 'error' comes first.
  await withTimeout(once(ws, 'open'), 10_000, 'hyco-ws sender open');
  return ws;
}

/** Collects `expected` bytes of binary messages (or the first text message) from a ws@1 socket. */
function receiveBytes(ws: Ws1Socket, expected: number, timeoutMs = 30_000): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  return withTimeout(
    new Promise<Buffer>((resolve, reject) => {
      ws.on('message', (data: string | Buffer) => {
        const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
        parts.push(bytes);
        size += bytes.length;
        if (size >= expected) resolve(Buffer.concat(parts, size));
      });
      ws.once('close', () => reject(new Error(`hyco-ws socket closed after ${size} of ${expected} bytes`)));
    }),
    timeoutMs,
    'hyco-ws receive',
  );
}

/** Sends `payload` on a new connection to `entity`, half-closes, and checks that the echo brings back every byte. */
async function assertEchoed(cleanup: Cleanup, relay: TestRelay, entity: string, payload: Buffer, what: string): Promise<void> {
  const stream = cleanup.stream(await clientFor(relay, entity).createConnection({ retryBudgetMs: 5000 }));
  const echoed = digestOf(stream, 30_000, what);
  await writeAll(stream, payload, { chunkSize: MiB });
  const back = await echoed;
  assert.equal(back.length, payload.length);
  assert.equal(back.sha256, sha256(payload));
}

for (const tls of [false, true]) {
  describe(`our listener with a hyco-ws sender over ${tls ? 'TLS' : 'plain ws'}`, () => {
    const cleanup = new Cleanup();
    let relay: TestRelay;
    const listenerSaw: { length: number; sha256: string }[] = [];

    before(async () => {
      relay = cleanup.add(await startRelay({ tls, hybridConnections: ['hws'] }), (r) => r.stop());
      const listener = cleanup.listener(listenerFor(relay, 'hws'));
      listener.on('connection', (stream: HybridConnectionStream) => {
        stream.on('error', () => undefined);
        void (async () => {
          // First message is a text greeting; answered as text. Then bytes are echoed as they come.
          const hello = await stream.readMessage(10_000);
          if (!hello || hello.binary) return void stream.destroy(new Error('expected a text greeting'));
          await stream.sendMessage(`hello, ${hello.data.toString('utf8')}`);
          const parts: Buffer[] = [];
          stream.on('data', (chunk: Buffer) => {
            parts.push(chunk);
            stream.write(chunk);
          });
          stream.on('end', () => {
            const all = Buffer.concat(parts);
            listenerSaw.push({ length: all.length, sha256: sha256(all) });
            stream.end();
          });
        })();
      });
      await listener.open();
    });
    after(() => cleanup.run());

    for (const [i, size] of SIZES.entries()) {
      it(`a hyco-ws sender's text greeting and ${size}-byte binary payload reach our listener and come back`, async () => {
        const ws = cleanup.add(await hycoSender(relay, 'hws'), (w) => w.terminate());
        const greeting = new Promise<string | Buffer>((resolve) => ws.once('message', resolve));
        ws.send('hyco-ws');
        const reply = await withTimeout(greeting, 10_000, 'greeting reply');
        assert.equal(typeof reply, 'string', 'a text message stays text');
        assert.equal(reply, 'hello, hyco-ws');

        const payload = patternBytes(size, 2000 + i);
        const echoed = receiveBytes(ws, size);
        ws.send(payload, { binary: true });
        const back = await echoed;
        assert.equal(back.length, size);
        assert.equal(sha256(back), sha256(payload));
        const before = listenerSaw.length;
        ws.close();
        await withTimeout(
          (async () => {
            while (listenerSaw.length === before) await new Promise((r) => setTimeout(r, 20));
          })(),
          10_000,
          'listener sees the close',
        );
        assert.deepEqual(listenerSaw[before], { length: size, sha256: sha256(payload) });
      });
    }
  });
}

describe('a hyco-ws listener (in process, plain ws) with our HybridConnectionClient', () => {
  const cleanup = new Cleanup();
  let relay: TestRelay;
  let server: HycoWsServer;
  const protocols: (string | undefined)[] = [];

  before(async () => {
    relay = cleanup.add(await startRelay({ hybridConnections: ['hwl'] }), (r) => r.stop());
    const WS = loadHycoWs();
    const listenUri = `${relay.wsBase}/$hc/hwl?sb-hc-action=listen`;
    server = WS.createRelayedServer({ server: listenUri, token: () => relay.token('hwl') }, (ws) => {
      // ws@1 knows the negotiated protocol only once the rendezvous handshake is done.
      ws.on('open', () => protocols.push(ws.protocol));
      ws.on('message', (data: string | Buffer, flags: { binary?: boolean }) => ws.send(data, { binary: flags.binary === true }));
      ws.on('error', () => undefined);
    });
    server.on('error', () => undefined);
    cleanup.add(server, (s) => s.close());
    await withTimeout(new Promise<void>((resolve) => server.once('listening', () => resolve())), 10_000, 'hyco-ws listening');
  });
  after(() => cleanup.run());

  for (const [i, size] of SIZES.entries()) {
    it(`${size} bytes from our client come back intact after a half-close`, () => assertEchoed(cleanup, relay, 'hwl', patternBytes(size, 3000 + i), 'echo from hyco-ws'));
  }

  it('a text message keeps its type and sub-protocols settle on the first offered', async () => {
    const stream = cleanup.stream(await clientFor(relay, 'hwl').createConnection({ protocols: ['chat', 'superchat'], retryBudgetMs: 5000 }));
    assert.equal(stream.info.protocol, 'chat');
    await stream.sendMessage('ping as text');
    const reply = await stream.readMessage(10_000);
    assert.ok(reply);
    assert.equal(reply.binary, false);
    assert.equal(reply.data.toString('utf8'), 'ping as text');
    assert.equal(protocols[protocols.length - 1], 'chat', 'the hyco-ws listener got the same sub-protocol');
    await stream.sendMessage(Buffer.from([1, 2, 3]));
    const bin = await stream.readMessage(10_000);
    assert.ok(bin);
    assert.equal(bin.binary, true);
    assert.deepEqual([...bin.data], [1, 2, 3]);
  });
});

describe('a hyco-ws listener (child process, TLS via NODE_EXTRA_CA_CERTS) with our HybridConnectionClient', () => {
  const cleanup = new Cleanup();
  let relay: TestRelay;

  before(async () => {
    relay = cleanup.add(await startRelay({ tls: true, hybridConnections: ['hwt'] }), (r) => r.stop());
    const peer = startHycoPeer({ mode: 'ws-listener', ...peerBase(relay, 'hwt', 60_000), name: 'T' }, relay.ca);
    cleanup.add(peer, async (p) => {
      await p.stop('SIGKILL', 1000);
      p.cleanup();
    });
    await peer.waitForOutput(/LISTENING T/, 15_000);
  });
  after(() => cleanup.run());

  for (const [i, size] of [1, MiB, 16 * MiB].entries()) {
    it(`${size} bytes over wss come back intact`, () => assertEchoed(cleanup, relay, 'hwt', patternBytes(size, 4000 + i), 'echo from hyco-ws over TLS'));
  }

  it('text messages are answered as text by the hyco-ws listener', async () => {
    const stream = cleanup.stream(await clientFor(relay, 'hwt').createConnection({ retryBudgetMs: 5000 }));
    await stream.sendMessage('hi');
    const reply = await stream.readMessage(10_000);
    assert.ok(reply);
    assert.equal(reply.binary, false);
    assert.equal(reply.data.toString('utf8'), 'T:hi');
  });
});
