/**
 * UDP flows over multiplexed sessions, between real `hybridge bridge` processes through the hybridge
 * relay (in this process, logging to a capture so that its rendezvous can be counted): every
 * datagram checked by SHA-256 both ways, no rendezvous per flow, datagrams beyond a stream's credit
 * dropped and counted (never queued), a lost session failing its flows while new flows work, and
 * the fallback against a byte-level azbridge remote side (one relayed connection per flow, the plain
 * mode-1 preamble).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { azbridgeRemoteSide } from '../bridge/azbridge-peers.js';
import { endBridgeSuite, startBridge, startUdpEcho, udpClient, type UdpTarget } from '../bridge/bridge-kit.js';
import { delay, freePort, waitFor } from '../helpers/async.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { capturingLogger, startRelay, type TestRelay } from '../helpers/relay.js';
import { count, relayedConnections } from './log-counts.js';

const HYCOS = ['mu-echo', 'mu-credit', 'mu-lost', 'mu-azbridge'];
const FLOWS = 40;

type Client = Awaited<ReturnType<typeof udpClient>>;

/** Sends each datagram and waits for its echo before the next (UDP may drop a burst in the kernel). */
async function pingPong(client: Client, port: number, datagrams: Buffer[], what: string): Promise<void> {
  const start = client.received.length;
  for (const [i, datagram] of datagrams.entries()) {
    client.send(datagram, port);
    await waitFor(() => client.received.length === start + i + 1, 10_000, `${what}: echo ${i}`);
  }
  assert.deepEqual(client.received.slice(start).map((d) => sha256(d)), datagrams.map((d) => sha256(d)), `${what}: every datagram back, intact, in order`);
}

describe('UDP flows over multiplexed sessions (bridge processes, through the relay)', () => {
  let relay: TestRelay;
  let echo: UdpTarget;
  const capture = capturingLogger();
  before(async () => {
    relay = await startRelay({ hybridConnections: HYCOS, log: capture.log });
    echo = await startUdpEcho();
  });
  after(() => endBridgeSuite(relay));

  /** bridge -T (`portName` to the UDP echo) and bridge -L (UDP on a free port, --mux 1) for `hyco`, once the session is open. */
  async function startMuxPair(hyco: string, portName: string) {
    const cs = relay.connectionString();
    const port = await freePort();
    const remote = await startBridge(['-x', cs, '-T', `${hyco}:${portName}/127.0.0.1:${echo.port}U`]);
    const local = await startBridge(['-x', cs, '-L', `127.0.0.1:${port}U/${portName}:${hyco}`, '--mux', '1', '-v']);
    await waitFor(() => count(local.output(), /multiplexed session open/) === 1, 10_000, 'session');
    return { port, remote, local };
  }

  it(`bridge -L NU --mux 2: ${FLOWS} flows at once ride 2 sessions, datagrams intact both ways, the relay carries 2 rendezvous`, async () => {
    const cs = relay.connectionString();
    const port = await freePort();
    const remote = await startBridge(['-x', cs, '-T', `mu-echo:game/127.0.0.1:${echo.port}U`, '-v']);
    const local = await startBridge(['-x', cs, '-L', `127.0.0.1:${port}U/game:mu-echo`, '--mux', '2', '-v']);
    await waitFor(() => count(local.output(), /multiplexed session open/) === 2, 10_000, 'two sessions');
    const clients = await Promise.all(Array.from({ length: FLOWS }, () => udpClient()));
    // Small enough together for the kernel's UDP buffers; the large ones go one at a time below.
    const sizes = [0, 1, 100, 1200, 3000];
    await Promise.all(clients.map((client, c) => pingPong(client, port, sizes.map((size, i) => patternBytes(size, 1000 * c + i + 1)), `client ${c}`)));
    // The largest datagram UDP over IPv4 carries, and one close to it, both ways.
    await pingPong(clients[0]!, port, [patternBytes(65_507, 7), patternBytes(40_000, 8)], 'large datagrams');
    // The listener served every flow as a stream of a session (tracking id session/stream), in datagram mode.
    await waitFor(() => count(remote.output(), /connection open .*trackingId=\S+\/\d+ .*mode=datagram/) === FLOWS, 10_000, 'flows logged by -T');
    assert.equal(count(local.output(), /connection open .*trackingId=\S+\/\d+ .*mode=datagram/), FLOWS);
    await Promise.all(clients.map((c) => c.close()));
    await local.stop('SIGTERM');
    await remote.stop('SIGTERM');
    await waitFor(() => relayedConnections(capture.records, 'mu-echo') >= 2, 10_000, 'relay lines');
    assert.equal(relayedConnections(capture.records, 'mu-echo'), 2, 'one rendezvous per session, none per flow');
  });

  it('a datagram the stream has no credit for is dropped and counted, not queued: the listener stopped (SIGSTOP) receives at most one window', async () => {
    const { port, remote, local } = await startMuxPair('mu-credit', 'sink');
    try {
      const client = await udpClient();
      await pingPong(client, port, [Buffer.from('open the flow')], 'first');
      remote.child.kill('SIGSTOP');
      // 200 datagrams of 8000 bytes (1.6 MB) against a stream window of 256 KiB, paced for the kernel's buffers.
      const SENT = 200;
      for (let i = 0; i < SENT; i++) {
        client.send(patternBytes(8000, i), port);
        if (i % 10 === 9) await delay(5);
      }
      await delay(500);
      remote.child.kill('SIGCONT');
      // The flow lives on: once the listener reads again, credit returns and datagrams pass.
      const before = client.received.length;
      let tries = 0;
      await waitFor(
        async () => {
          tries++;
          client.send(Buffer.from('after'), port);
          await delay(100);
          return client.received.slice(before).some((d) => d.toString() === 'after');
        },
        15_000,
        'a datagram after the listener resumed',
      );
      await local.stop('SIGTERM');
      const localEnd = /connection ended .*port=sink .*trackingId=\S+\/\d+ .*datagrams=(\d+)\/\d+ dropped=(\d+)/.exec(local.output());
      assert.ok(localEnd, `the -L flow's end line counts the drops:\n${local.output()}`);
      const [sent, dropped] = [Number(localEnd[1]), Number(localEnd[2])];
      // 256 KiB of credit covers 32 datagrams of 8002 framed bytes: the rest of the burst was dropped.
      assert.ok(sent - 1 - tries <= 33, `at most one window of the burst went out (sent ${sent}, ${tries} of them "after")`);
      assert.ok(dropped >= SENT - 33, `the rest of the burst was dropped and counted (${dropped})`);
      const remoteEnd = await remote.waitForOutput(/connection (ended|failed) .*port=sink .*datagrams=\d+\/(\d+)/, 10_000);
      assert.ok(Number(remoteEnd[2]) <= sent, `the listener received ${remoteEnd[2]}, no more than was sent (${sent})`);
    } finally {
      remote.child.kill('SIGCONT');
      await local.stop('SIGKILL');
      await remote.stop('SIGKILL');
    }
  });

  it('a lost session (the listener killed) fails its flows cleanly; the next datagram opens a new flow that works', async () => {
    const cs = relay.connectionString();
    const pair = await startMuxPair('mu-lost', 'game');
    const { port, local } = pair;
    let { remote } = pair;
    try {
      const clients = await Promise.all([udpClient(), udpClient(), udpClient()]);
      await Promise.all(clients.map((client, c) => pingPong(client, port, [patternBytes(500, c)], `client ${c} before`)));
      remote.child.kill('SIGKILL');
      // Each flow is reported as broken, once, and forgotten.
      await waitFor(() => count(local.output(), /connection failed .*port=game .*trackingId=\S+\/\d+ .*end=relay-error/) === 3, 15_000, 'three flows failed');
      assert.equal(count(local.output(), /connection ended .*port=game .*trackingId=\S+\/\d+/), 0);
      remote = await startBridge(['-x', cs, '-T', `mu-lost:game/127.0.0.1:${echo.port}U`]);
      for (const [c, client] of clients.entries()) {
        const again = patternBytes(1500, 50 + c);
        await waitFor(
          async () => {
            client.send(again, port);
            await delay(200);
            return client.received.some((d) => d.length === again.length && sha256(d) === sha256(again));
          },
          30_000,
          `client ${c} served again`,
        );
      }
      await waitFor(() => count(local.output(), /multiplexed session open/) === 2, 30_000, 'the session was re-opened');
    } finally {
      await local.stop('SIGTERM');
      await remote.stop('SIGTERM');
    }
  });

  it('falls back against an azbridge remote side: the hello gets 00 00 00, each flow sends the plain mode-1 preamble on a connection of its own', async () => {
    const peer = await azbridgeRemoteSide(relay, 'mu-azbridge');
    const port = await freePort();
    const before = relayedConnections(capture.records, 'mu-azbridge');
    const local = await startBridge(['-x', relay.connectionString(), '-L', `127.0.0.1:${port}U/dns:mu-azbridge`, '--mux', '2']);
    try {
      await local.waitForOutput(/the listener does not multiplex/, 10_000);
      const clients = await Promise.all([udpClient(), udpClient(), udpClient()]);
      await Promise.all(clients.map((client, c) => pingPong(client, port, [0, 10, 1000, 20_000].map((size, i) => patternBytes(size, 10 * c + i)), `client ${c}`)));
      const plain = peer.preambles.filter((p) => p[2] === 1);
      assert.equal(plain.length, 3, 'one preamble per flow');
      for (const p of plain) assert.deepEqual(p, Buffer.concat([Buffer.from([1, 0, 1, 3]), Buffer.from('dns')]));
      const hellos = peer.preambles.length - plain.length;
      assert.ok(hellos <= 2, 'no more hellos than session slots');
      await local.stop('SIGTERM');
      await waitFor(() => relayedConnections(capture.records, 'mu-azbridge') - before >= 3 + hellos, 10_000, 'relay lines');
      assert.equal(relayedConnections(capture.records, 'mu-azbridge') - before, 3 + hellos, 'one rendezvous per flow, besides the refused hellos');
    } finally {
      await local.stop('SIGTERM');
      await peer.close();
    }
  });
});
