/**
 * Multiplexing between real hybridge ends (processes) through the hybridge relay (in this process,
 * logging to a capture): relay-sender port-forward --mux against relay-listener, bridge -L --mux
 * against bridge -T, every byte checked on many concurrent connections, and the count that proves
 * the point: the relay sees one rendezvous per session, not one per client connection. Then the
 * fallback: against byte-level azbridge-style and aztunnel-style listeners (which refuse the hello
 * as the real ones do) a --mux sender opens one relayed connection per client connection, as today.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type Socket } from 'node:net';
import { HybridConnectionListener, type HybridConnectionStream } from '../../src/client/index.js';
import { encodeConnectResponse, parseConnectEnvelope } from '../../src/protocol/aztunnel-envelope.js';
import { freePort, waitFor, withTimeout } from '../helpers/async.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { spawnHybridge, stopAll } from '../helpers/processes.js';
import { capturingLogger, startRelay, type TestRelay } from '../helpers/relay.js';
import { readExactly } from '../shared/read-exactly.js';
import { bridgeEnv } from '../bridge/bridge-kit.js';
import { echoServer, roundTrip, startListener, startPortForward, type TestServer } from '../tunnel/tunnel-kit.js';
import { count, relayedConnections } from './log-counts.js';

const HYCOS = ['mux-pf', 'mux-bridge', 'mux-aztunnel', 'mux-azbridge'];
const CLIENTS = 40;

async function manyRoundTrips(port: number, clients: number): Promise<void> {
  const payloads = Array.from({ length: clients }, (_, i) => patternBytes(64 * 1024 + i * 7919, 100 + i));
  const results = await withTimeout(Promise.all(payloads.map((p) => roundTrip(port, p))), 60_000, 'round trips');
  results.forEach((r, i) => {
    assert.equal(r.received.length, payloads[i]!.length);
    assert.equal(r.sha256, sha256(payloads[i]!));
  });
}

describe('multiplexed sessions between hybridge ends (processes, through the relay)', () => {
  let relay: TestRelay;
  let echo: TestServer;
  const capture = capturingLogger();
  before(async () => {
    relay = await startRelay({ hybridConnections: HYCOS, log: capture.log });
    echo = await echoServer();
  });
  after(async () => {
    await stopAll();
    await echo.close();
    await relay.stop();
  });

  it('relay-sender --mux 2: 40 tunnels ride 2 sessions, so the relay carries 2 rendezvous, not 40', async () => {
    const target = `127.0.0.1:${echo.port}`;
    const listener = await startListener(relay, 'mux-pf', ['--allow', target]);
    const pf = await startPortForward(relay, 'mux-pf', target, ['--mux', '2']);
    await waitFor(() => count(pf.proc.output(), /multiplexed session open/) === 2, 10_000, 'two sessions');
    await manyRoundTrips(pf.port, CLIENTS);
    // The listener applied its usual path to every stream: one 'connection open' per client connection (tracking ids session/stream).
    await waitFor(() => count(listener.output(), /connection ended .*trackingId=\S+\/\d+ .*end=closed/) === CLIENTS, 10_000, 'tunnels logged');
    assert.equal(count(listener.output(), /connection open .*trackingId=\S+\/\d+ /), CLIENTS);
    assert.equal(count(listener.output(), /multiplexed session open/), 2);
    await pf.proc.stop('SIGTERM');
    await listener.stop('SIGTERM');
    await waitFor(() => relayedConnections(capture.records, 'mux-pf') >= 2, 10_000, 'relay lines');
    assert.equal(relayedConnections(capture.records, 'mux-pf'), 2, 'one rendezvous per session');
  });

  it('relay-listener refuses a stream its allowlist refuses, as without mux: the client connection is closed, the session lives on', async () => {
    const allowed = `127.0.0.1:${echo.port}`;
    const listener = await startListener(relay, 'mux-pf', ['--allow', allowed]);
    const refused = await startPortForward(relay, 'mux-pf', '127.0.0.1:9', ['--mux', '1']);
    try {
      await waitFor(() => /multiplexed session open/.test(refused.proc.output()), 10_000, 'session');
      const socket = connect({ port: refused.port, host: '127.0.0.1' });
      socket.on('error', () => undefined);
      await withTimeout(new Promise((resolve) => socket.once('close', resolve)), 10_000, 'refused client closed');
      await refused.proc.waitForOutput(/target not allowed/, 5000);
      await listener.waitForOutput(/tunnel refused: target not allowed/, 5000);
      assert.equal(count(refused.proc.output(), /multiplexed session (open|ended)/), 1, 'the session stayed up');
    } finally {
      await refused.proc.stop('SIGTERM');
      await listener.stop('SIGTERM');
    }
  });

  it('a session lost mid-stream (the listener killed) resets its client connections; new ones go through again', async () => {
    const target = `127.0.0.1:${echo.port}`;
    let listener = await startListener(relay, 'mux-pf', ['--allow', target]);
    const pf = await startPortForward(relay, 'mux-pf', target, ['--mux', '1']);
    try {
      await waitFor(() => count(pf.proc.output(), /multiplexed session open/) === 1, 10_000, 'session');
      const sockets = [0, 1, 2].map(() => connect({ port: pf.port, host: '127.0.0.1' }));
      for (const socket of sockets) {
        socket.on('error', () => undefined);
        socket.write('ping');
        assert.equal((await withTimeout(readExactly(socket, 4), 10_000, 'echo')).toString(), 'ping');
      }
      const closed = sockets.map((socket) => new Promise((resolve) => socket.once('close', resolve)));
      listener.child.kill('SIGKILL');
      await withTimeout(Promise.all(closed), 15_000, 'client connections closed');
      // Each one is reported as broken, none as a clean end.
      await waitFor(() => count(pf.proc.output(), /connection failed .*trackingId=\S+\/\d+ /) === 3, 10_000, 'abrupt ends logged');
      assert.equal(count(pf.proc.output(), /connection ended .*trackingId=\S+\/\d+ /), 0);
      listener = await startListener(relay, 'mux-pf', ['--allow', target]);
      const again = patternBytes(100_000, 77);
      assert.equal((await roundTrip(pf.port, again, 30_000)).sha256, sha256(again));
    } finally {
      await pf.proc.stop('SIGTERM');
      await listener.stop('SIGTERM');
    }
  });

  it('bridge -L --mux 2 to bridge -T: 40 connections on 2 sessions, each intact', async () => {
    const before = relayedConnections(capture.records, 'mux-bridge');
    const cs = relay.connectionString();
    const remote = spawnHybridge(['bridge', '-x', cs, '-T', `mux-bridge:echo/127.0.0.1:${echo.port}`], { env: bridgeEnv() });
    await remote.waitForOutput(/relay listener online/, 15_000);
    const port = await freePort();
    const local = spawnHybridge(['bridge', '-x', cs, '-L', `127.0.0.1:${port}/echo:mux-bridge`, '--mux', '2', '-v'], { env: bridgeEnv() });
    await local.waitForOutput(/bridge ready/, 15_000);
    await waitFor(() => count(local.output(), /multiplexed session open/) === 2, 10_000, 'two sessions');
    await manyRoundTrips(port, CLIENTS);
    assert.equal(count(remote.output(), /multiplexed session open/), 2);
    await local.stop('SIGTERM');
    await remote.stop('SIGTERM');
    await waitFor(() => relayedConnections(capture.records, 'mux-bridge') - before >= 2, 10_000, 'relay lines');
    assert.equal(relayedConnections(capture.records, 'mux-bridge') - before, 2, 'one rendezvous per session');
  });

  it('falls back against an aztunnel-style listener: the hello is refused ("missing target"), each tunnel gets its own connection', async () => {
    const peer = await aztunnelStyleListener(relay, 'mux-aztunnel', echo.port);
    const target = `127.0.0.1:${echo.port}`;
    const pf = await startPortForward(relay, 'mux-aztunnel', target, ['--mux', '2']);
    try {
      await pf.proc.waitForOutput(/the listener does not multiplex/, 10_000);
      // aztunnel carries no half-close, so each client reads its echo back and then hangs up.
      const payloads = [0, 1, 2, 3, 4].map((i) => patternBytes(50_000 + i * 999, 200 + i));
      const echoed = await withTimeout(Promise.all(payloads.map((p) => echoWithoutEnd(pf.port, p))), 30_000, 'echoes');
      echoed.forEach((got, i) => assert.equal(sha256(got), sha256(payloads[i]!)));
      // Two hellos (one per session slot, refused without dialing), then exactly one envelope per tunnel, byte-identical to today's.
      const tunnels = peer.firstMessages.filter((m) => !m.includes('hybridge_mux'));
      assert.equal(tunnels.length, 5);
      for (const m of tunnels) assert.match(m, /^\{"version":1,"target":"127\.0\.0\.1:\d+","bridge_id":"[A-Z2-7]{16}","half_close":true\}$/);
      assert.ok(peer.firstMessages.length - tunnels.length <= 2, 'no more hellos than session slots');
      assert.equal(peer.dials, 5, 'the hello made the peer dial nothing');
    } finally {
      await pf.proc.stop('SIGTERM');
      await peer.close();
    }
  });

  it('falls back against an azbridge-style listener: the hello gets 00 00 00, each connection sends the plain preamble', async () => {
    const peer = await azbridgeStyleListener(relay, 'mux-azbridge');
    const port = await freePort();
    const local = spawnHybridge(['bridge', '-x', relay.connectionString(), '-L', `127.0.0.1:${port}/echo:mux-azbridge`, '--mux', '2'], { env: bridgeEnv() });
    try {
      await local.waitForOutput(/bridge ready/, 15_000);
      await local.waitForOutput(/the listener does not multiplex/, 10_000);
      await manyRoundTrips(port, 5);
      const plain = peer.preambles.filter((p) => p[2] === 0);
      assert.equal(plain.length, 5);
      for (const p of plain) assert.deepEqual(p, Buffer.concat([Buffer.from([1, 0, 0, 4]), Buffer.from('echo')]));
      assert.ok(peer.preambles.length - plain.length <= 2);
    } finally {
      await local.stop('SIGTERM');
      await peer.close();
    }
  });
});

async function echoWithoutEnd(port: number, payload: Buffer): Promise<Buffer> {
  const socket = connect({ port, host: '127.0.0.1' });
  socket.on('error', () => undefined);
  socket.write(payload);
  try {
    return await readExactly(socket, payload.length);
  } finally {
    socket.destroy();
  }
}

interface FakePeer {
  firstMessages: string[];
  preambles: Buffer[];
  dials: number;
  close(): Promise<void>;
}

/**
 * Behaves like aztunnel's listener at the byte level (reference aztunnel-and-peers.md §1.3.2): one
 * text envelope, "missing target" for an empty target, else dial, answer ok, carry bytes.
 */
async function aztunnelStyleListener(relay: TestRelay, entity: string, echoPort: number): Promise<FakePeer> {
  const listener = new HybridConnectionListener({ connectionString: relay.connectionString(entity) });
  const peer: FakePeer = { firstMessages: [], preambles: [], dials: 0, close: () => listener.close() };
  listener.on('connection', (stream: HybridConnectionStream) => {
    stream.on('error', () => undefined);
    void (async () => {
      const first = await stream.readMessage(10_000);
      if (!first || first.binary) return stream.destroy();
      const text = first.data.toString('utf8');
      peer.firstMessages.push(text);
      const parsed = parseConnectEnvelope(text);
      if (!parsed.ok) {
        await stream.sendMessage(encodeConnectResponse({ ok: false, error: parsed.rejection }));
        return stream.close(1000, 'done');
      }
      peer.dials++;
      const socket: Socket = connect({ port: echoPort, host: '127.0.0.1' });
      await new Promise((resolve) => socket.once('connect', resolve));
      await stream.sendMessage(encodeConnectResponse({ ok: true }));
      socket.on('error', () => stream.destroy());
      // aztunnel has no half-close: the end of the sender's data ends the whole connection after the echo.
      stream.pipe(socket);
      socket.pipe(stream);
    })().catch(() => stream.destroy());
  });
  await listener.open();
  return peer;
}

/** Behaves like azbridge's remote side (reference/azbridge.md §3.2): only modes 0 and 1; anything else gets `00 00 00` and a close. */
async function azbridgeStyleListener(relay: TestRelay, entity: string): Promise<FakePeer> {
  const listener = new HybridConnectionListener({ connectionString: relay.connectionString(entity) });
  const peer: FakePeer = { firstMessages: [], preambles: [], dials: 0, close: () => listener.close() };
  listener.on('connection', (stream: HybridConnectionStream) => {
    stream.on('error', () => undefined);
    void (async () => {
      const head = await readExactly(stream, 4);
      const name = await readExactly(stream, head[3]!);
      peer.preambles.push(Buffer.concat([head, name]));
      if (head[0] !== 1 || head[1] !== 0 || (head[2] !== 0 && head[2] !== 1)) {
        stream.write(Buffer.from([0, 0, 0]));
        return stream.end();
      }
      stream.write(Buffer.from([1, 0, head[2]!]));
      stream.pipe(stream);
    })().catch(() => stream.destroy());
  });
  await listener.open();
  return peer;
}

