import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { HybridConnectionClient, type HybridConnectionStream } from '../../src/client/index.js';
import { azbridgeLocalSide, azbridgeRemoteSide } from '../bridge/azbridge-peers.js';
import { digestOf, endBridgeSuite, exchange, startBridge, startEchoTarget, startUdpEcho, type TcpTarget, type UdpTarget } from '../bridge/bridge-kit.js';
import { freePort, withTimeout } from '../helpers/async.js';
import { Digest, patternBytes } from '../helpers/data.js';
import type { RunningProcess } from '../helpers/processes.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { readExactly } from '../shared/read-exactly.js';

/** Sends `payload`, half-closes, and hashes everything that comes back until the end. */
async function roundTrip(stream: HybridConnectionStream, payload: Buffer): Promise<{ length: number; sha256: string }> {
  const digest = new Digest();
  const done = withTimeout(
    new Promise<void>((resolve, reject) => {
      stream.on('data', (c: Buffer) => digest.update(c));
      stream.once('end', () => resolve());
      stream.once('error', reject);
    }),
    20_000,
    'echo through the bridge',
  );
  stream.resume();
  stream.end(payload);
  await done;
  return { length: digest.length, sha256: digest.hex() };
}

/** Reads framed datagrams (2-byte length + payload) from a relayed stream. */
async function readDatagram(stream: HybridConnectionStream): Promise<Buffer> {
  const length = (await readExactly(stream, 2)).readUInt16BE(0);
  return readExactly(stream, length);
}

function framed(payload: Buffer): Buffer {
  const header = Buffer.alloc(2);
  header.writeUInt16BE(payload.length, 0);
  return Buffer.concat([header, payload]);
}

describe('byte-level compatibility with azbridge ends (processes)', () => {
  let relay: TestRelay;
  let echo: TcpTarget;
  let udpEcho: UdpTarget;
  let remote: RunningProcess;

  before(async () => {
    relay = await startRelay({ hybridConnections: ['sc-tcp', 'sc-single', 'sc-udp', 'sc-local', 'sc-tunnel', 'sc-allow'] });
    echo = await startEchoTarget();
    udpEcho = await startUdpEcho();
    const cs = relay.connectionString();
    remote = await startBridge([
      '-x', cs,
      '-T', `sc-tcp:db/${echo.port};dns/127.0.0.1:${udpEcho.port}U`,
      '-T', `sc-single:${echo.port}`,
      '-T', `sc-udp:dns/127.0.0.1:${udpEcho.port}U`,
      '-T', `sc-tunnel:${echo.port}`,
    ]);
  });

  after(() => endBridgeSuite(relay));

  test('an azbridge local side (preamble in two messages, 3-byte reply, data) is served by -T', async () => {
    const { stream, reply } = await azbridgeLocalSide(relay, 'sc-tcp', 'db', 0);
    assert.deepEqual([...reply], [1, 0, 0], 'accepted: 01 00 00');
    const payload = patternBytes(2 * 1024 * 1024, 71);
    assert.deepEqual(await roundTrip(stream, payload), digestOf(payload), 'the data after the reply is the echo, byte for byte');
  });

  test('exactly one forwarder on the relay: any numeric port name reaches it (azbridge PR #55)', async () => {
    const { stream, reply } = await azbridgeLocalSide(relay, 'sc-single', '13389', 0);
    assert.deepEqual([...reply], [1, 0, 0]);
    const payload = patternBytes(1000, 72);
    assert.deepEqual(await roundTrip(stream, payload), digestOf(payload));
  });

  test("refusals an azbridge local side understands: unknown name, version, stream/datagram mismatch", async () => {
    const unknown = await azbridgeLocalSide(relay, 'sc-tcp', 'DB', 0);
    assert.deepEqual([...unknown.reply], [0, 0, 0xfe], 'names are case-sensitive; hybridge reply 00 00 FE (an azbridge peer just sees a refusal)');
    const reason = await readExactly(unknown.stream, 1).then((len) => readExactly(unknown.stream, len[0]!));
    // The listener's id comes first (a sender behind Azure passes it over with DisallowedListeners); never the names it serves.
    assert.match(reason.toString(), /^\[listener [0-9a-f-]{36}\] no port named "DB" on relay sc-tcp$/, 'the sender is not told which port names the listener serves');
    unknown.stream.destroy();

    const client = new HybridConnectionClient({ connectionString: relay.connectionString('sc-tcp') });
    const badVersion = await client.createConnection();
    await badVersion.sendMessage(Buffer.from([2, 0, 0, 2, 0x64, 0x62]));
    assert.deepEqual([...(await readExactly(badVersion, 3))], [0, 0, 0], 'version 2.0: 00 00 00');
    badVersion.destroy();

    const datagramToStream = await azbridgeLocalSide(relay, 'sc-tcp', 'db', 1);
    assert.deepEqual([...datagramToStream.reply], [0, 0, 0xff], 'UDP asked of a TCP port: 00 00 FF');
    datagramToStream.stream.destroy();
    const streamToDatagram = await azbridgeLocalSide(relay, 'sc-tcp', 'dns', 0);
    assert.deepEqual([...streamToDatagram.reply], [0, 0, 1], 'a stream asked of a UDP port: 00 00 01');
    streamToDatagram.stream.destroy();
  });

  test('an azbridge local side in datagram mode: reply 01 00 01, 2-byte framed datagrams both ways', async () => {
    const { stream, reply } = await azbridgeLocalSide(relay, 'sc-udp', 'dns', 1);
    assert.deepEqual([...reply], [1, 0, 1]);
    for (const size of [0, 1, 512, 9000, 65_000]) {
      const payload = patternBytes(size, 73 + size);
      await stream.sendMessage(framed(payload));
      const back = await readDatagram(stream);
      assert.deepEqual(digestOf(back), digestOf(payload), `a ${size}-byte datagram came back intact`);
    }
    stream.end();
    stream.destroy();
  });

  test('-L is served by an azbridge remote side: the preamble it sends and the bytes that follow', async () => {
    const peer = await azbridgeRemoteSide(relay, 'sc-local');
    const port = await freePort();
    const local = await startBridge(['-x', relay.connectionString(), '-L', `${port}/sql1:sc-local`]);
    const payload = patternBytes(3 * 1024 * 1024, 74);
    const got = await exchange({ port }, payload);
    assert.deepEqual({ length: got.length, sha256: got.sha256 }, digestOf(payload));
    assert.deepEqual(peer.preambles, [Buffer.from([1, 0, 0, 4, ...Buffer.from('sql1')])], 'preamble 01 00 00 04 "sql1"');
    await local.stop();
    await peer.close();
  });

  test('aztunnel-style senders on a -T relay: refused without --allow (with a log line saying so), served with it', async () => {
    const client = new HybridConnectionClient({ connectionString: relay.connectionString('sc-tunnel') });
    const refused = await client.createConnection();
    await refused.sendMessage(JSON.stringify({ version: 1, target: `127.0.0.1:${echo.port}` }));
    const answer = await refused.readMessage(10_000);
    assert.equal(answer?.binary, false);
    assert.deepEqual(JSON.parse(answer!.data.toString()), { version: 1, ok: false, error: 'target not allowed' });
    refused.destroy();
    await remote.waitForOutput(/connection failed .*end=not-allowed reason="aztunnel-style sender refused \(target not allowed\).*--allow/);

    const allowing = await startBridge(['-x', relay.connectionString(), '-T', `sc-allow:${echo.port}`, '--allow', `127.0.0.1:${echo.port}`]);
    const tunnel = await new HybridConnectionClient({ connectionString: relay.connectionString('sc-allow') }).createConnection();
    // A sender that half-closes says so (half_close); an aztunnel sender, which cannot, is in tunnel-peers.
    await tunnel.sendMessage(JSON.stringify({ version: 1, target: `127.0.0.1:${echo.port}`, half_close: true }));
    const ok = await tunnel.readMessage(10_000);
    assert.equal(JSON.parse(ok!.data.toString()).ok, true);
    const payload = patternBytes(100_000, 75);
    assert.deepEqual(await roundTrip(tunnel, payload), digestOf(payload));
    await allowing.stop();
  });
});
