/**
 * WebSocket upgrades on a hybrid connection's HTTP address (`ws://relay/{hyco}/path`), at the relay
 * (src/relay/websocket-upgrade-relay.ts) with the client library's listener: how the relay
 * authorizes them (as relayed HTTP requests), what the listener's accept carries (path, query,
 * headers, `sb-hc-via=http`, which a `$hc` sender cannot forge), which sub-protocol the client gets,
 * and what a refusal, a missing listener or a listener that never comes to the rendezvous give.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request, type IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { HybridConnectionListener, type AcceptContext, type AcceptDecision } from '../../src/client/index.js';
import { Opcode } from '../../src/protocol/websocket-frame.js';
import type { WsConnection } from '../../src/websocket/connection.js';
import { withTimeout } from '../helpers/async.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import { capturingLogger, ROOT_RULE, ROOT_KEY, startRelay, type TestRelay } from '../helpers/relay.js';

describe('WebSocket upgrades on the HTTP address', () => {
  let relay: TestRelay;
  let listener: HybridConnectionListener;
  let anon: HybridConnectionListener;
  let decide: (context: AcceptContext) => AcceptDecision | Promise<AcceptDecision> = () => true;
  const contexts: AcceptContext[] = [];
  const logs = capturingLogger();

  const open = (path: string, options: { protocols?: string[]; headers?: Record<string, string> } = {}): Promise<WebSocket> => {
    const ws = new WebSocket(`${relay.wsBase}${path}`, options.protocols ?? [], { headers: options.headers, perMessageDeflate: false });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(ws));
      ws.once('unexpected-response', (_req, res) => {
        reject(Object.assign(new Error(`refused ${res.statusCode}`), { statusCode: res.statusCode, statusMessage: res.statusMessage }));
        res.resume();
        ws.terminate();
      });
      ws.once('error', reject);
    });
  };
  const answer = async (path: string, headers?: Record<string, string>): Promise<{ statusCode: number; statusMessage: string }> => {
    try {
      (await open(path, { headers })).terminate();
      return { statusCode: 101, statusMessage: '' };
    } catch (err) {
      return err as { statusCode: number; statusMessage: string };
    }
  };
  const status = async (path: string, headers?: Record<string, string>): Promise<number> => (await answer(path, headers)).statusCode;
  const auth = (entity = 'up') => ({ ServiceBusAuthorization: relay.token(entity) });

  before(async () => {
    relay = await startRelay({ hybridConnections: ['up', 'anon', 'alone'], acceptTimeoutMs: 1500, log: logs.log });
    await relay.server.store.updateHybridConnection('anon', { requiresClientAuthorization: false });
    listener = new HybridConnectionListener({ endpoint: relay.wsBase, entityPath: 'up', keyName: ROOT_RULE, key: ROOT_KEY });
    listener.acceptHandler = (context) => {
      contexts.push(context);
      return decide(context);
    };
    listener.on('connection', (stream) => {
      stream.on('error', () => undefined);
      stream.pipe(stream);
    });
    listener.on('error', () => undefined);
    await listener.open();
    anon = new HybridConnectionListener({ endpoint: relay.wsBase, entityPath: 'anon', keyName: ROOT_RULE, key: ROOT_KEY });
    anon.on('connection', (stream) => {
      stream.on('error', () => undefined);
      stream.pipe(stream);
    });
    anon.on('error', () => undefined);
    await anon.open();
  });

  after(async () => {
    await listener.close();
    await anon.close();
    await relay.stop();
  });

  it('the accept keeps the path after the hybrid connection and the query (no sb-hc-*), carries the headers (no relay token) and says sb-hc-via=http', async () => {
    decide = () => true;
    const before = contexts.length;
    const ws = await open(`/up/a/b%20c?x=1&y=%2B&sb-hc-token=${encodeURIComponent(relay.token('up'))}`, { headers: { 'X-Custom': 'yes' } });
    const context = contexts[before]!;
    assert.equal(context.requestTarget, '/up/a/b%20c?x=1&y=%2B');
    assert.equal(context.pathSuffix, 'a/b c');
    assert.equal(context.query, 'x=1&y=%2B');
    const names = Object.keys(context.connectHeaders).map((n) => n.toLowerCase());
    assert.ok(names.includes('x-custom') && names.includes('sec-websocket-key'), 'the client handshake headers are there');
    assert.ok(!names.includes('servicebusauthorization'));
    assert.ok(context.remoteEndpoint?.address, 'remoteEndpoint is present, as in every accept');
    const relayed = [...relay.server.relayedConnections].find((c) => c.trackingId === context.trackingId);
    assert.equal(relayed?.viaHttpAddress, true, 'the relayed connection is marked as an HTTP-address upgrade');
    ws.terminate();
  });

  it('the request target keeps dot segments as the client sent them (raw), for the listener to judge', async () => {
    decide = () => ({ statusCode: 403 });
    const before = contexts.length;
    const req = request({ host: '127.0.0.1', port: relay.port, path: '/up/a/%2e%2e/b/./c?k=v', agent: false, headers: { ...auth(), Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' } });
    const [res] = (await withTimeout(once(req.end(), 'response'), 5000, 'refusal')) as [IncomingMessage];
    res.resume();
    assert.equal(res.statusCode, 403);
    assert.equal(contexts[before]!.requestTarget, '/up/a/%2e%2e/b/./c?k=v');
  });

  it('a $hc sender cannot make its accept look like an HTTP-address upgrade', async () => {
    decide = () => true;
    const before = contexts.length;
    const ws = await open(`/$hc/up/p?q=1&sb-hc-action=connect&sb-hc-via=http`, { headers: auth() });
    assert.equal(contexts[before]!.requestTarget, undefined);
    assert.equal(contexts[before]!.query, 'q=1');
    ws.terminate();
    const direct = await open('/up/p?q=1&sb-hc-via=http', { headers: auth() });
    assert.equal(contexts[before + 1]!.requestTarget, '/up/p?q=1', 'the same on the HTTP address is one (its own sb-hc-via taken out)');
    direct.terminate();
  });

  it('a token is checked as for relayed HTTP: none where one is required is 401, one for another entity is refused, an anonymous hybrid connection needs none', async () => {
    assert.equal(await status('/up/x'), 401);
    assert.notEqual(await status('/up/x', { ServiceBusAuthorization: relay.token('anon') }), 101);
    assert.equal(await status('/up/x', { Authorization: relay.token('up') }), 101, 'a token in Authorization, when neither of the others is there');
    assert.equal(await status('/anon/x'), 101);
  });

  it('no such hybrid connection, or no listener: 404', async () => {
    const unknown = await answer('/nothing-here/x', auth('nothing-here'));
    assert.equal(unknown.statusCode, 404);
    assert.match(unknown.statusMessage, /no hybrid connection matches/);
    const alone = await answer('/alone/x', auth('alone'));
    assert.equal(alone.statusCode, 404);
    assert.match(alone.statusMessage, /No listener is connected to "alone"/);
  });

  it("a listener's refusal is the client's status", async () => {
    decide = () => ({ statusCode: 409, statusDescription: 'not now' });
    assert.equal(await status('/up/refused', auth()), 409);
  });

  it('a listener that never comes to the rendezvous: 504 after the accept timeout', async () => {
    decide = () => new Promise<AcceptDecision>(() => undefined);
    const started = Date.now();
    assert.equal(await status('/up/stuck', auth()), 504);
    assert.ok(Date.now() - started >= 1000, 'only once the accept timeout passed');
  });

  it("the client gets exactly the listener's sub-protocol, or none; frames pass one for one", async () => {
    const frames: { opcode: number; data: Buffer }[] = [];
    decide = () => ({
      subProtocol: 'second',
      onWebSocket: (conn) => {
        let parts: Buffer[] = [];
        let binary = false;
        conn.attach({
          onMessageStart: (b) => {
            binary = b;
            parts = [];
          },
          onMessageData: (chunk) => parts.push(chunk),
          onMessageEnd: () => {
            const data = Buffer.concat(parts);
            frames.push({ opcode: binary ? Opcode.Binary : Opcode.Text, data });
            conn.sendFrame(binary ? Opcode.Binary : Opcode.Text, data);
          },
          onPeerClose: (code, reason) => conn.close(code, reason),
        });
      },
      onFailed: () => undefined,
    });
    const ws = await open('/up/proto', { protocols: ['first', 'second'], headers: auth() });
    assert.equal(ws.protocol, 'second');
    const echoes: { binary: boolean; sha: string }[] = [];
    ws.on('message', (data: Buffer, binary: boolean) => echoes.push({ binary, sha: sha256(data) }));
    const big = patternBytes(300_000, 2);
    ws.send('text one');
    ws.send(big, { binary: true });
    ws.close(4100, 'done here');
    const [code, reason] = (await withTimeout(once(ws, 'close'), 5000, 'close')) as [number, Buffer];
    assert.deepEqual({ code, reason: reason.toString() }, { code: 4100, reason: 'done here' });
    assert.deepEqual(echoes, [
      { binary: false, sha: sha256(Buffer.from('text one')) },
      { binary: true, sha: sha256(big) },
    ]);
    assert.deepEqual(
      frames.map((f) => f.opcode),
      [Opcode.Text, Opcode.Binary],
    );

    const quiet = { onWebSocket: (conn: WsConnection) => conn.attach({ onMessageData: () => undefined }), onFailed: () => undefined };
    decide = () => ({ subProtocol: 'second', ...quiet });
    const unasked = await open('/up/proto', { headers: auth() });
    assert.equal(unasked.protocol, '', 'a sub-protocol the client did not offer is not passed on');
    unasked.terminate();
    // A $hc sender would get the first it offered; here the listener's "none" stands, and ws refuses it.
    decide = () => ({ subProtocol: undefined, ...quiet });
    await assert.rejects(open('/up/proto', { protocols: ['first'], headers: auth() }), /no subprotocol/);
  });

  it('the relayed connection ends with its one line, marked via=http', async () => {
    decide = () => true;
    const ws = await open('/up/logged', { headers: auth() });
    ws.close();
    await withTimeout(once(ws, 'close'), 5000, 'close');
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && !logs.records.some((r) => r.event === 'SenderConnectionClosed' && r.via === 'http')) await new Promise((r) => setTimeout(r, 25));
    assert.ok(logs.records.some((r) => r.event === 'SenderConnectionClosed' && r.via === 'http' && r.hyco === 'up'));
  });
});
