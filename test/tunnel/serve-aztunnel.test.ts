/**
 * The listener end in-process against a real relay, driven by a raw sender that writes exactly what
 * an aztunnel sender writes: the envelope, the response, the 32 KiB message limit, every allowlist
 * rule form, dial failure codes, capacity refusals, half-close and control-channel reconnects.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RelayHandshakeError, type HybridConnectionStream } from '../../src/client/index.js';
import { Allowlist } from '../../src/tunnel/allowlist.js';
import { withTimeout, waitFor } from '../helpers/async.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import {
  ACCEPTED,
  askListener,
  AT_CAPACITY,
  aztunnelEnvelope,
  connectionFailed,
  NOT_ALLOWED,
  rawClient,
  startInProcessListener,
  type InProcessListener,
} from './listener-fixture.js';
import { answerAfterEofServer, blackholePort, echoServer, KiB, type TestServer } from './tunnel-kit.js';

const HYCOS = ['st-bytes', 'st-allow', 'st-fail', 'st-envelope', 'st-capacity', 'st-halfclose', 'st-reconnect', 'st-azbridge', 'st-flood'];

/** Reads whole messages until `total` bytes came, checking each is binary and at most 32 KiB. */
async function readMessages(stream: HybridConnectionStream, total: number): Promise<{ data: Buffer; largest: number; count: number }> {
  const parts: Buffer[] = [];
  let size = 0;
  let largest = 0;
  while (size < total) {
    const message = await stream.readMessage(10_000);
    if (!message) throw new Error(`the listener closed after ${size} of ${total} bytes`);
    assert.equal(message.binary, true, 'data travels in binary messages');
    largest = Math.max(largest, message.data.length);
    parts.push(message.data);
    size += message.data.length;
  }
  return { data: Buffer.concat(parts), largest, count: parts.length };
}

describe('relay-listener handler (aztunnel envelope)', () => {
  let relay: TestRelay;
  let echo: TestServer;
  let echo6: TestServer;
  const cleanups: (() => Promise<void> | void)[] = [];

  before(async () => {
    relay = await startRelay({ hybridConnections: HYCOS });
    echo = await echoServer();
    echo6 = await echoServer('::1');
  });
  after(async () => {
    for (const c of cleanups.reverse()) await c();
    await echo.close();
    await echo6.close();
    await relay.stop();
  });
  async function listen(hyco: string, options: Parameters<typeof startInProcessListener>[2] = {}): Promise<InProcessListener> {
    const l = await startInProcessListener(relay, hyco, options);
    cleanups.push(() => l.stop());
    return l;
  }

  it('serves an aztunnel sender byte for byte: envelope, response, 32 KiB binary messages, close', async () => {
    await listen('st-bytes');
    const { stream, binary, text } = await askListener(rawClient(relay, 'st-bytes'), aztunnelEnvelope(`127.0.0.1:${echo.port}`));
    assert.equal(binary, false, 'the response is a text message');
    assert.equal(text, ACCEPTED);
    const payload = patternBytes(300 * KiB + 123, 7);
    for (let offset = 0; offset < payload.length; offset += 32 * KiB) await stream.sendMessage(payload.subarray(offset, offset + 32 * KiB));
    const echoed = await readMessages(stream, payload.length);
    assert.equal(echoed.data.length, payload.length);
    assert.equal(sha256(echoed.data), sha256(payload));
    assert.ok(echoed.largest <= 32 * KiB, `largest message ${echoed.largest} bytes exceeds aztunnel's 32 KiB read limit`);
    stream.end();
    assert.equal(await stream.readMessage(5000), undefined, 'the listener closes once the target has ended');
    assert.equal(stream.closeCode, 1000);
  });

  it('applies every allowlist rule form, accepting and refusing', async () => {
    const l = await listen('st-allow');
    const client = rawClient(relay, 'st-allow');
    const p = echo.port;
    const p6 = echo6.port;
    const other = p === 65535 ? p - 1 : p + 1;
    const table: { rules: string[]; resolve?: boolean; accept: string[]; refuse: string[] }[] = [
      { rules: ['*'], accept: [`127.0.0.1:${p}`, `localhost:${p}`, `[::1]:${p6}`], refuse: [] },
      { rules: [`127.0.0.1:${p}`], accept: [`127.0.0.1:${p}`], refuse: [`127.0.0.1:${other}`, `127.0.0.2:${p}`, `localhost:${p}`] },
      { rules: ['127.0.0.1:*'], accept: [`127.0.0.1:${p}`], refuse: [`127.0.0.2:${p}`] },
      { rules: [`*:${p}`], accept: [`127.0.0.1:${p}`, `localhost:${p}`], refuse: [`127.0.0.1:${other}`] },
      { rules: [`127.0.0.0/8:${p}`], accept: [`127.0.0.1:${p}`], refuse: [`127.0.0.1:${other}`, `10.0.0.1:${p}`] },
      { rules: ['127.0.0.0/24:*'], accept: [`127.0.0.1:${p}`], refuse: [`127.0.1.1:${p}`, `[::1]:${p6}`] },
      { rules: [`[::1]:${p6}`], accept: [`[::1]:${p6}`], refuse: [`[::2]:${p6}`, `127.0.0.1:${p6}`] },
      { rules: ['[::1/128]:*'], accept: [`[::1]:${p6}`], refuse: [`[::2]:${p6}`] },
      { rules: [`127.0.0.1:${p - 1}-${p}`], accept: [`127.0.0.1:${p}`], refuse: [`127.0.0.1:${p + 1}`] },
      { rules: [`localhost:${p}`], accept: [`localhost:${p}`, `LocalHost:${p}`], refuse: [`127.0.0.1:${p}`] },
      { rules: [`localhost:${p}`], resolve: true, accept: [`localhost:${p}`, `127.0.0.1:${p}`], refuse: [`127.0.0.2:${p}`] },
      { rules: [`127.0.0.1/32:${p}`], resolve: true, accept: [`localhost:${p}`], refuse: [`localhost:${other}`] },
      { rules: [`127.0.0.1/32:${p}`], accept: [], refuse: [`localhost:${p}`] },
    ];
    for (const row of table) {
      l.use({ allowlist: Allowlist.parse(row.rules, row.resolve ? { resolveEntries: { resolve: async (name) => (name === 'localhost' ? ['127.0.0.1'] : []) } } : {}), resolveNames: row.resolve === true, lookup: async (name) => (name === 'localhost' ? ['127.0.0.1'] : []) });
      for (const target of row.accept) {
        const { stream, text } = await askListener(client, aztunnelEnvelope(target));
        assert.equal(text, ACCEPTED, `--allow ${row.rules.join(' ')}${row.resolve ? ' --allow-resolve' : ''} accepts ${target}`);
        const payload = Buffer.from(`hello ${target}`);
        await stream.sendMessage(payload);
        const back = await readMessages(stream, payload.length);
        assert.equal(back.data.toString(), payload.toString());
        stream.destroy();
      }
      for (const target of row.refuse) {
        const { stream, text } = await askListener(client, aztunnelEnvelope(target));
        assert.equal(text, NOT_ALLOWED, `--allow ${row.rules.join(' ')}${row.resolve ? ' --allow-resolve' : ''} refuses ${target}`);
        assert.equal(await stream.readMessage(5000), undefined);
        assert.equal(stream.closeCode, 1000);
        assert.equal(stream.closeReason, 'done');
      }
    }
  });

  it('reports dial failures with aztunnel codes: refused, timeout, DNS', async () => {
    const closed = await echoServer();
    const closedPort = closed.port;
    await closed.close();
    const hole = await blackholePort();
    cleanups.push(() => hole.close());
    await listen('st-fail', { connectTimeoutMs: 300 });
    const client = rawClient(relay, 'st-fail');
    assert.equal((await askListener(client, aztunnelEnvelope(`127.0.0.1:${closedPort}`))).text, connectionFailed('connection_refused'));
    const started = Date.now();
    assert.equal((await askListener(client, aztunnelEnvelope(`127.0.0.1:${hole.port}`))).text, connectionFailed('timeout'));
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 250 && elapsed < 3000, `timeout answered after ${elapsed} ms with --connect-timeout 300ms`);
    // .invalid never resolves (RFC 6761); a resolver that cannot be reached at all says dns_timeout.
    const dns = (await askListener(client, aztunnelEnvelope('no-such-host.invalid:80'))).text;
    assert.ok([connectionFailed('dns_not_found'), connectionFailed('dns_timeout')].includes(dns), dns);
  });

  it('refuses bad envelopes with aztunnel\'s messages', async () => {
    await listen('st-envelope');
    const client = rawClient(relay, 'st-envelope');
    const cases: [string, string][] = [
      ['not json', 'invalid envelope'],
      ['{"version":2,"target":"127.0.0.1:1"}', 'unsupported protocol version'],
      ['{"target":"127.0.0.1:1"}', 'unsupported protocol version'],
      ['{"version":1}', 'missing target'],
      ['{"version":1,"target":"no-port"}', 'invalid target'],
    ];
    for (const [envelope, error] of cases) {
      const { text } = await askListener(client, envelope);
      assert.equal(text, `{"version":1,"ok":false,"error":"${error}","listener_id":"LISTENERID234567"}`, envelope);
    }
  });

  it('answers at once when --max-connections is reached, and frees the slot when a tunnel ends', async () => {
    await listen('st-capacity', { maxConnections: 1 });
    const client = rawClient(relay, 'st-capacity');
    const held = await askListener(client, aztunnelEnvelope(`127.0.0.1:${echo.port}`));
    assert.equal(held.text, ACCEPTED);
    const started = Date.now();
    const refused = await askListener(client, aztunnelEnvelope(`127.0.0.1:${echo.port}`));
    assert.equal(refused.text, AT_CAPACITY);
    assert.ok(Date.now() - started < 2000, `the refusal took ${Date.now() - started} ms`);
    held.stream.end();
    await withTimeout(new Promise((resolve) => held.stream.once('close', resolve).resume()), 5000, 'held tunnel close');
    await waitFor(async () => {
      const again = await askListener(client, aztunnelEnvelope(`127.0.0.1:${echo.port}`));
      again.stream.destroy();
      return again.text === ACCEPTED;
    }, 5000, 'slot released');
  });

  it('refuses before the rendezvous (503) only when far beyond the limit', async () => {
    await listen('st-flood', { maxConnections: 1 });
    const client = rawClient(relay, 'st-flood');
    // 1 tunnel plus 16 connections that say nothing yet: the limit plus its refusal headroom.
    const open: HybridConnectionStream[] = [];
    cleanups.push(() => open.forEach((s) => s.destroy()));
    const tunnel = await askListener(client, aztunnelEnvelope(`127.0.0.1:${echo.port}`));
    open.push(tunnel.stream);
    for (let i = 0; i < 16; i++) {
      const s = await client.createConnection({ retryBudgetMs: 0 });
      s.on('error', () => undefined);
      open.push(s);
    }
    await assert.rejects(client.createConnection({ retryBudgetMs: 0 }), (err: unknown) => err instanceof RelayHandshakeError && err.statusCode === 503 && /listener at capacity/.test(err.message));
  });

  it('carries half-close with a sender that says it does: the sender ends its direction and still gets the whole answer', async () => {
    const reply = patternBytes(200 * KiB, 3);
    const target = await answerAfterEofServer(reply);
    cleanups.push(() => target.close());
    await listen('st-halfclose');
    const { stream, text } = await askListener(rawClient(relay, 'st-halfclose'), aztunnelEnvelope(`127.0.0.1:${target.port}`, undefined, true));
    assert.equal(text, ACCEPTED);
    const request = patternBytes(100 * KiB, 4);
    for (let offset = 0; offset < request.length; offset += 32 * KiB) await stream.sendMessage(request.subarray(offset, offset + 32 * KiB));
    stream.end();
    const header = Buffer.from(`${request.length} ${sha256(request)}\n`);
    const answer = await readMessages(stream, header.length + reply.length);
    assert.equal(answer.data.subarray(0, header.length).toString(), header.toString(), 'the target saw every request byte');
    assert.equal(sha256(answer.data.subarray(header.length)), sha256(reply));
    assert.equal(await stream.readMessage(5000), undefined);
  });

  it('keeps live tunnels running across a control-channel reconnect', async () => {
    const l = await listen('st-reconnect');
    const client = rawClient(relay, 'st-reconnect');
    const { stream, text } = await askListener(client, aztunnelEnvelope(`127.0.0.1:${echo.port}`));
    assert.equal(text, ACCEPTED);
    const first = patternBytes(64 * KiB, 11);
    await stream.sendMessage(first.subarray(0, 32 * KiB));
    await stream.sendMessage(first.subarray(32 * KiB));
    assert.equal(sha256((await readMessages(stream, first.length)).data), sha256(first));

    const [channel] = relay.server.registry.channels('st-reconnect');
    assert.ok(channel, 'the listener has a control channel');
    channel.conn.destroy();
    await waitFor(() => relay.server.registry.channels('st-reconnect').some((c) => c !== channel) && l.listener.isOnline, 10_000, 'control channel reconnected');

    const second = patternBytes(96 * KiB, 12);
    for (let offset = 0; offset < second.length; offset += 32 * KiB) await stream.sendMessage(second.subarray(offset, offset + 32 * KiB));
    assert.equal(sha256((await readMessages(stream, second.length)).data), sha256(second), 'the tunnel kept working');
    stream.end();
    assert.equal(await stream.readMessage(5000), undefined);
    assert.equal(stream.closeCode, 1000, 'and closed normally');
    const fresh = await askListener(client, aztunnelEnvelope(`127.0.0.1:${echo.port}`));
    assert.equal(fresh.text, ACCEPTED, 'new tunnels are accepted after the reconnect');
    fresh.stream.destroy();
  });

  it('answers an azbridge-style sender (binary preamble) with 00 00 FE and a reason', async () => {
    await listen('st-azbridge');
    const { binary, data } = await askListener(rawClient(relay, 'st-azbridge'), Buffer.from([1, 0, 0, 4, ...Buffer.from('3389')]));
    assert.equal(binary, true);
    assert.deepEqual([...data.subarray(0, 3)], [0, 0, 0xfe]);
    assert.equal(data.subarray(4, 4 + data[3]!).toString(), 'tunnels only here');
  });
});
