/**
 * WebSockets through `hybridge bridge -H` (a process) over a plain and a TLS relay: a real `ws`
 * client upgrades on the relay's HTTP address (`ws(s)://relay/{hyco}/path`), the relay offers it
 * to the -H listener as a rendezvous, and -H opens a WebSocket to a real `ws` WebSocketServer.
 * Messages keep their type and boundaries (checked by length and SHA-256, up to a few MiB), path,
 * query, headers and sub-protocol reach the target, Close codes and reasons pass both ways, pings
 * are answered, refusals arrive as statuses, and a reader that stops reading holds the writer back
 * instead of filling the relay's or the bridge's memory.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { endBridgeSuite, startBridge } from '../bridge/bridge-kit.js';
import { trustRelay } from '../bridge/http-scripted-target.js';
import { FLOOD_MESSAGE_BYTES, startWebSocketTarget, type TargetSession, type WebSocketTarget } from '../bridge/websocket-target.js';
import { delay, waitFor, withTimeout } from '../helpers/async.js';
import { capturingLogger } from '../helpers/capturing-logger.js';
import { Digest, patternBytes, sha256 } from '../helpers/data.js';
import type { RunningProcess } from '../helpers/processes.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';

interface Received {
  binary: boolean;
  data: Buffer;
}

for (const tls of [false, true]) {
  describe(`WebSockets through -H (${tls ? 'TLS' : 'plain'} relay)`, () => {
    let relay: TestRelay;
    let target: WebSocketTarget;
    let bridge: RunningProcess;
    const logs = capturingLogger();

    const address = (path: string) => `${relay.wsBase}${path}`;
    const open = (path: string, options: { protocols?: string[]; headers?: Record<string, string>; token?: boolean } = {}): Promise<WebSocket> => {
      const headers = { ...(options.token === false ? {} : { ServiceBusAuthorization: relay.token('ws') }), ...options.headers };
      const ws = new WebSocket(address(path), options.protocols ?? [], { headers, perMessageDeflate: false, ...(relay.ca && { ca: relay.ca }), maxPayload: 64 * 1024 * 1024 });
      return new Promise((resolve, reject) => {
        ws.once('open', () => resolve(ws));
        ws.once('unexpected-response', (_req, res) => {
          reject(Object.assign(new Error(`upgrade refused: ${res.statusCode} ${res.statusMessage}`), { statusCode: res.statusCode, statusMessage: res.statusMessage }));
          res.resume();
          ws.terminate();
        });
        ws.once('error', reject);
      });
    };
    const refusal = async (promise: Promise<WebSocket>): Promise<{ statusCode: number; statusMessage: string }> => {
      try {
        (await promise).terminate();
      } catch (err) {
        return err as { statusCode: number; statusMessage: string };
      }
      assert.fail('the upgrade was expected to fail');
    };
    const collect = (ws: WebSocket): Received[] => {
      const got: Received[] = [];
      ws.on('message', (data: Buffer, binary: boolean) => got.push({ binary, data }));
      return got;
    };
    const session = (before: number): Promise<TargetSession> => waitFor(() => target.sessions[before], 5000, 'the target got the WebSocket');
    const closed = (ws: WebSocket): Promise<{ code: number; reason: string }> =>
      withTimeout(once(ws, 'close').then(([code, reason]) => ({ code: code as number, reason: (reason as Buffer).toString('utf8') })), 5000, 'the close');

    before(async () => {
      relay = await startRelay({ tls, log: logs.log, hybridConnections: ['ws', 'nolistener', 'wsb'] });
      target = await startWebSocketTarget();
      bridge = await startBridge(['-x', relay.connectionString(), '-H', `ws:http/127.0.0.1:${target.port}`], { env: trustRelay(relay).env });
    });

    after(() => endBridgeSuite(relay));

    test('text and binary messages pass both ways with their types and boundaries (up to a few MiB, SHA-256 of each)', async () => {
      const count = target.sessions.length;
      const ws = await open('/ws/echo');
      const got = collect(ws);
      const sent: Received[] = [
        { binary: false, data: Buffer.from('hello, target — ünïcödé', 'utf8') },
        { binary: true, data: Buffer.alloc(0) },
        { binary: true, data: patternBytes(3 * 1024 * 1024 + 17, 3) },
        { binary: false, data: Buffer.from('x'.repeat(1024 * 1024 + 5)) },
        { binary: true, data: patternBytes(1, 5) },
        { binary: false, data: Buffer.alloc(0) },
        { binary: true, data: patternBytes(70_000, 7) },
      ];
      for (const m of sent) ws.send(m.data, { binary: m.binary });
      await waitFor(() => got.length === sent.length, 10_000, 'every echo arrived');
      const seen = await session(count);
      const expected = sent.map((m) => ({ binary: m.binary, length: m.data.length, sha256: sha256(m.data) }));
      assert.deepEqual(seen.messages, expected, 'the target got each message as sent');
      assert.deepEqual(got.map((m) => ({ binary: m.binary, length: m.data.length, sha256: sha256(m.data) })), expected, 'the client got each echo as the target sent it');
      ws.close(1000);
      await closed(ws);
    });

    test('path, query, headers and sub-protocol reach the target; the relay token does not', async () => {
      const count = target.sessions.length;
      const ws = await open(`/ws/echo/deep/path?x=1&y=%2B&sb-hc-token=${encodeURIComponent(relay.token('ws'))}`, { protocols: ['chat.v2', 'chat.v1'], headers: { 'X-Custom': 'yes' }, token: false });
      const seen = await session(count);
      assert.equal(seen.url, '/echo/deep/path?x=1&y=%2B');
      assert.equal(seen.headers['x-custom'], 'yes');
      assert.equal(seen.headers.host, `127.0.0.1:${target.port}`, 'Host names the target, as -H does for HTTP');
      assert.equal(seen.headers.servicebusauthorization, undefined);
      assert.equal(seen.headers['sec-websocket-protocol'], 'chat.v2, chat.v1', 'every offered sub-protocol, in order');
      assert.equal(seen.protocol, 'chat.v1');
      assert.equal(ws.protocol, 'chat.v1', "the client gets the target's choice, not the first it offered");
      ws.close();
      await closed(ws);
    });

    test('Close codes and reasons pass both ways', async () => {
      let count = target.sessions.length;
      const ws = await open('/ws/echo');
      const seen = await session(count);
      ws.close(4001, 'client says bye');
      assert.deepEqual(await closed(ws), { code: 4001, reason: 'client says bye' }, "the target's answering Close came back");
      await waitFor(() => seen.closed, 5000, 'the target saw the Close');
      assert.deepEqual(seen.closed, { code: 4001, reason: 'client says bye' });

      count = target.sessions.length;
      const second = await open(`/ws/close-first?code=4002&reason=${encodeURIComponent('target says bye')}`);
      assert.deepEqual(await closed(second), { code: 4002, reason: 'target says bye' });
      const seen2 = await session(count);
      await waitFor(() => seen2.closed, 5000, 'the target got the answering Close');
      assert.equal(seen2.closed?.code, 4002);
    });

    test('pings are answered on both sides', async () => {
      const count = target.sessions.length;
      const ws = await open('/ws/echo');
      const seen = await session(count);
      const pong = once(ws, 'pong');
      ws.ping(Buffer.from('client-ping'));
      assert.equal(((await withTimeout(pong, 5000, 'pong'))[0] as Buffer).toString(), 'client-ping');
      seen.ws.ping(Buffer.from('target-ping'));
      await waitFor(() => seen.pongs.length > 0, 5000, 'the target got a pong');
      assert.equal(seen.pongs[0]!.toString(), 'target-ping');
      ws.close();
      await closed(ws);
    });

    test('a target that refuses the upgrade: the client gets its status, and -H logs it', async () => {
      const { statusCode } = await refusal(open('/ws/refuse/here'));
      assert.equal(statusCode, 403);
      await bridge.waitForOutput(/target refused the WebSocket upgrade: 403/, 5000);
    });

    test('no listener: 404; a missing token where one is required: 401; a path that leaves the target: 400', async () => {
      assert.equal((await refusal(open('/nolistener/x', { headers: { ServiceBusAuthorization: relay.token('nolistener') } }))).statusCode, 404);
      assert.equal((await refusal(open('/ws/echo', { token: false }))).statusCode, 401);
      assert.equal((await refusal(open('/ws/echo/..%2f..%2fsecret'))).statusCode, 400);
    });

    test('a WebSocket is confined to the -H path as requests are (dot segments sent raw, as ws and browsers never do)', async () => {
      const count = target.sessions.length;
      for (const path of ['/ws/%2e%2e/etc/passwd', '/ws/echo/%2e%2e/%2e%2e/secret', '/ws/echo/..%5csecret']) {
        assert.equal(await rawUpgrade(relay, path), 400, path);
      }
      assert.equal(target.sessions.length, count, 'the target saw none of them');
      await bridge.waitForOutput(/WebSocket upgrade refused: the request path leaves the target's base path/, 5000);
    });

    test('a target that does not read holds the client back: what is in flight stays bounded, nothing is lost', async () => {
      const count = target.sessions.length;
      const ws = await open('/ws/slow');
      const seen = await session(count);
      const total = 40;
      const expected = new Digest();
      for (let i = 0; i < total; i++) {
        const chunk = patternBytes(FLOOD_MESSAGE_BYTES, 100 + i);
        expected.update(chunk);
        ws.send(chunk, { binary: true });
      }
      const inFlight = () => total * FLOOD_MESSAGE_BYTES - ws.bufferedAmount;
      await settle(inFlight);
      // Kernel socket buffers on the three loopback hops hold some MiB (about 4 MiB in all here); the relay and -H hold a chunk.
      assert.ok(inFlight() < 16 * FLOOD_MESSAGE_BYTES, `at most 16 MiB left the client while the target read nothing (${inFlight()} bytes)`);
      assert.ok(ws.bufferedAmount > 20 * FLOOD_MESSAGE_BYTES, 'the rest waits at the client, which was held back');
      seen.ws.resume();
      await waitFor(() => seen.messages.length === total, 20_000, 'every message arrived once the target read again');
      assert.equal(seen.digest.hex(), expected.hex());
      assert.ok(seen.messages.every((m) => m.binary && m.length === FLOOD_MESSAGE_BYTES));
      ws.close();
      await closed(ws);
    });

    if (!tls)
      test('-b sets the source address of the connection to the target', async () => {
        await startBridge(['-x', relay.connectionString(), '-b', '127.0.0.2', '-H', `wsb:http/127.0.0.1:${target.port}`]);
        const count = target.sessions.length;
        const ws = new WebSocket(address('/wsb/echo'), { headers: { ServiceBusAuthorization: relay.token('wsb') }, perMessageDeflate: false });
        await withTimeout(once(ws, 'open'), 5000, 'open');
        assert.equal((await session(count)).remoteAddress, '127.0.0.2');
        ws.close();
        await closed(ws);
      });

    if (!tls)
      test('a client that does not read holds the target back', async () => {
        const count = target.sessions.length;
        const total = 40;
        const ws = await open(`/ws/flood?mib=${total}`);
        ws.pause();
        const seen = await session(count);
        const inFlight = () => total * FLOOD_MESSAGE_BYTES - seen.ws.bufferedAmount;
        await settle(inFlight);
        assert.ok(inFlight() < 16 * FLOOD_MESSAGE_BYTES, `at most 16 MiB left the target while the client read nothing (${inFlight()} bytes)`);
        const got = new Digest();
        let messages = 0;
        ws.on('message', (data: Buffer) => {
          got.update(data);
          messages++;
        });
        ws.resume();
        await waitFor(() => messages === total, 20_000, 'every message arrived once the client read again');
        const expected = new Digest();
        for (let i = 0; i < total; i++) expected.update(patternBytes(FLOOD_MESSAGE_BYTES, i + 1));
        assert.equal(got.hex(), expected.hex());
        ws.close();
        await closed(ws);
      });
  });
}

/** A WebSocket upgrade with the path exactly as given (node:http does not resolve dot segments); resolves with the status. */
function rawUpgrade(relay: TestRelay, path: string): Promise<number> {
  const headers = { ServiceBusAuthorization: relay.token('ws'), Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' };
  const options = { host: '127.0.0.1', port: relay.port, path, headers, agent: false as const, ...(relay.ca && { ca: relay.ca }) };
  return withTimeout(
    new Promise<number>((resolve, reject) => {
      const req = (relay.ca ? httpsRequest : httpRequest)(options);
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('upgrade', (_res, socket) => {
        socket.destroy();
        resolve(101);
      });
      req.on('error', reject);
      req.end();
    }),
    5000,
    'raw upgrade',
  );
}

/** Waits until `value` has stopped changing for a while (bounded to 10 s). */
async function settle(value: () => number): Promise<void> {
  const deadline = Date.now() + 10_000;
  let last = value();
  let stableSince = Date.now();
  while (Date.now() < deadline && Date.now() - stableSince < 700) {
    await delay(50);
    const now = value();
    if (now !== last) {
      last = now;
      stableSince = Date.now();
    }
  }
}
