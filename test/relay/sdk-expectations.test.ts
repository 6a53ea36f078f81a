/**
 * What the .NET and Java SDKs expect of the service, checked at the byte level against the relay
 * (facts from azure-relay-dotnet and azure-relay-java; no SDK runs here, so each test speaks the
 * SDK's side of the wire by hand):
 * - GetRuntimeInformationAsync's GET (ManagementOperations.GetAsync) is answered by the relay with
 *   the Atom entry the SDK's DataContractSerializer reads, members in contract order, and never
 *   reaches a listener; its errors are `<Error><Code/><Detail/></Error>`;
 * - `remoteEndpoint` is in every accept and request (Java's AcceptCommand calls
 *   getJSONObject("remoteEndpoint"), which throws when it is missing);
 * - the relay sends a listener no command but accept and request (Java throws "Invalid command
 *   type received." on any other);
 * - Relay-User-Agent is accepted and logged; unsolicited pongs are accepted;
 * - error descriptions carry `TrackingId:` (the SDKs' EnsureTrackableMessage keeps such a text).
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { waitFor } from '../helpers/async.js';
import { capturingLogger, startRelay, type TestRelay } from '../helpers/relay.js';
import { acceptAndEcho, expectRefusal, hcUrl, httpRequest, nextMessage, openSender, RawListener, toBuffer, WAIT_MS } from './protocol-peers.js';
import { createSasToken } from '../../src/protocol/sas-token.js';

const CONNECT_NS = 'http://schemas.microsoft.com/netservices/2010/10/servicebus/connect';

describe('what the .NET and Java SDKs expect from the service', () => {
  let relay: TestRelay;
  const logged = capturingLogger();
  const cleanup: (() => Promise<void> | void)[] = [];

  before(async () => {
    relay = await startRelay({ hybridConnections: ['sdk', 'sdk-commands', 'sdk-anon'], log: logged.log, handoffMs: 60_000 });
    await relay.server.store.updateHybridConnection('sdk', { userMetadata: 'owner=<ops> & "team"' });
    await relay.server.store.updateHybridConnection('sdk-anon', { requiresClientAuthorization: false });
    await relay.server.store.putRule('sdk', 'listen-only', ['Listen']);
    await relay.server.store.putRule('sdk', 'send-only', ['Send']);
  });
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });
  after(() => relay.stop());

  function runtimeInfoRequest(path: string, token: string | undefined) {
    const headers: Record<string, string> = { 'X-PROCESS-AT': 'ServiceBus' };
    if (token !== undefined) headers.Authorization = token;
    return httpRequest(`${relay.httpBase}/${path}?api-version=2016-07`, { headers });
  }

  function ruleToken(entity: string, keyName: string): string {
    const rule = relay.server.store.getRule(entity, keyName);
    return createSasToken(`http://127.0.0.1:${relay.port}/${entity}`, keyName, rule.primaryKey, Math.floor(Date.now() / 1000) + 600);
  }

  it('answers GetRuntimeInformationAsync itself, with the Atom entry the SDK parses; the listener never sees it', async () => {
    const listener = await RawListener.open(relay, 'sdk', { onRequest: () => assert.fail('the runtime-information request was relayed to the listener') });
    cleanup.push(() => listener.close());
    const answer = await runtimeInfoRequest('sdk', relay.token('sdk'));
    assert.equal(answer.status, 200);
    const type = answer.headers['content-type'] ?? '';
    assert.match(type, /^application\/atom\+xml;\s*type=entry/i, 'not a feed: the SDK reads a feed as "not found"');
    const xml = answer.body.toString('utf8');
    assert.match(xml, /^<\?xml version="1\.0" encoding="utf-8"\?><entry xmlns="http:\/\/www\.w3\.org\/2005\/Atom">/);
    const content = /<content type="application\/xml">(.*)<\/content><\/entry>$/.exec(xml);
    assert.ok(content, 'the description sits in the Atom <content type="application/xml">');
    const description = new RegExp(`^<HybridConnectionDescription xmlns="${CONNECT_NS.replace(/[./]/g, '\\$&')}"[^>]*>(.*)</HybridConnectionDescription>$`).exec(content[1]!);
    assert.ok(description, `HybridConnectionDescription in the connect namespace: ${content[1]}`);
    // DataContractSerializer takes the members in their declared order (2, 3, 4, 8, 9): exactly this sequence.
    const members = [...description[1]!.matchAll(/<(\w+)>([^<]*)<\/\1>/g)].map((m) => [m[1], m[2]]);
    assert.deepEqual(
      members.map((m) => m[0]),
      ['CreatedAt', 'UpdatedAt', 'RequiresClientAuthorization', 'UserMetadata', 'ListenerCount'],
    );
    const values = Object.fromEntries(members) as Record<string, string>;
    const entity = relay.server.store.getHybridConnection('sdk')!;
    assert.equal(values.CreatedAt, entity.createdAt);
    assert.equal(values.UpdatedAt, entity.updatedAt);
    assert.ok(!Number.isNaN(Date.parse(values.CreatedAt!)), 'xs:dateTime');
    assert.equal(values.RequiresClientAuthorization, 'true');
    assert.equal(values.UserMetadata, 'owner=&lt;ops&gt; &amp; &quot;team&quot;', 'user metadata is XML-escaped');
    assert.equal(values.ListenerCount, '1');
    assert.equal(listener.requests.length, 0);
  });

  it('counts listeners as they come and go, and leaves out an empty UserMetadata (EmitDefaultValue = false)', async () => {
    const anon = await runtimeInfoRequest('sdk-anon', relay.token('sdk-anon'));
    assert.equal(anon.status, 200);
    assert.match(anon.body.toString(), /<RequiresClientAuthorization>false<\/RequiresClientAuthorization><ListenerCount>0<\/ListenerCount>/);
    const a = await RawListener.open(relay, 'sdk-anon');
    const b = await RawListener.open(relay, 'sdk-anon');
    assert.match((await runtimeInfoRequest('sdk-anon', relay.token('sdk-anon'))).body.toString(), /<ListenerCount>2<\/ListenerCount>/);
    await a.close();
    await b.close();
    await waitFor(async () => /<ListenerCount>0</.test((await runtimeInfoRequest('sdk-anon', relay.token('sdk-anon'))).body.toString()), WAIT_MS, 'listener count back to 0');
  });

  it('takes a token with any right on the entity (listener or sender connection strings); refuses others as the SDK maps them', async () => {
    for (const keyName of ['listen-only', 'send-only']) {
      const answer = await runtimeInfoRequest('sdk', ruleToken('sdk', keyName));
      assert.equal(answer.status, 200, `a ${keyName} token reads the entity`);
    }
    const cases: [string, string | undefined, number][] = [
      ['sdk', undefined, 401],
      ['sdk', 'SharedAccessSignature sr=x&sig=bad&se=99999999999&skn=RootManageSharedAccessKey', 401],
      ['sdk', relay.token('sdk-anon'), 401],
      ['no-such-hyco', relay.token('no-such-hyco'), 404],
    ];
    for (const [path, token, status] of cases) {
      const answer = await runtimeInfoRequest(path, token);
      assert.equal(answer.status, status, `${path} with ${token ? 'a bad token' : 'no token'}`);
      assert.match(answer.headers['content-type'] ?? '', /^application\/xml/);
      const xml = answer.body.toString('utf8');
      const detail = new RegExp(`^<Error><Code>${status}</Code><Detail>(.+)</Detail></Error>$`).exec(xml);
      assert.ok(detail, `the <Error><Code/><Detail/> the SDK reads: ${xml}`);
      assert.match(detail[1]!, /TrackingId:[0-9a-f-]{36}, SystemTracker:[^,]+, Timestamp:\d{4}-/);
      assert.doesNotMatch(xml, /sig=|RootManageSharedAccessKey/, 'never the token');
    }
  });

  it('relays a GET without X-PROCESS-AT (or without api-version) to the listener as an ordinary request', async () => {
    const listener = await RawListener.open(relay, 'sdk-commands', {
      onRequest: (request, _body, l) => l.sendJson({ response: { requestId: request.id, statusCode: 204, body: false } }),
    });
    cleanup.push(() => listener.close());
    assert.equal((await httpRequest(`${relay.httpBase}/sdk-commands?api-version=2016-07`, { headers: { ServiceBusAuthorization: relay.token('sdk-commands') } })).status, 204);
    assert.equal((await httpRequest(`${relay.httpBase}/sdk-commands/x`, { headers: { ServiceBusAuthorization: relay.token('sdk-commands'), 'X-PROCESS-AT': 'ServiceBus' } })).status, 204);
    assert.equal(listener.requests.length, 2);
  });

  it('puts remoteEndpoint {address, port} in every accept and request, the address-only request included', async () => {
    const seen: Record<string, unknown>[] = [];
    const control = await openRecordingListener('sdk-commands', seen, { echo: true });
    cleanup.push(() => control.terminate());
    const sender = await openSender(relay, 'sdk-commands', {});
    cleanup.push(() => sender.terminate());
    const token = relay.token('sdk-commands');
    // A small GET goes inline; a big upload goes address-only (request rendezvous).
    void httpRequest(`${relay.httpBase}/sdk-commands/small`, { headers: { ServiceBusAuthorization: token } }, 2000).catch(() => undefined);
    void httpRequest(`${relay.httpBase}/sdk-commands/big`, { method: 'POST', headers: { ServiceBusAuthorization: token }, body: Buffer.alloc(200_000, 7) }, 2000).catch(() => undefined);
    await waitFor(() => seen.length >= 3, WAIT_MS, 'an accept and two requests');
    const accept = seen.find((m) => 'accept' in m)!.accept as Record<string, unknown>;
    const requests = seen.filter((m) => 'request' in m).map((m) => m.request as Record<string, unknown>);
    assert.ok(requests.some((r) => r.method === undefined), 'one request went address-only');
    for (const command of [accept, ...requests]) {
      const endpoint = command.remoteEndpoint as { address?: unknown; port?: unknown } | undefined;
      assert.ok(endpoint, `remoteEndpoint in ${JSON.stringify(command).slice(0, 200)}`);
      assert.equal(endpoint.address, '127.0.0.1');
      assert.equal(typeof endpoint.port, 'number');
      assert.ok((endpoint.port as number) > 0);
    }
    // Java casts every header value to String: none may be an array.
    for (const map of [accept.connectHeaders, ...requests.map((r) => r.requestHeaders).filter(Boolean)]) {
      for (const value of Object.values(map as Record<string, unknown>)) assert.equal(typeof value, 'string');
    }
  });

  it('sends a listener nothing but accept and request, whatever the listener and its senders do', async () => {
    const seen: Record<string, unknown>[] = [];
    const control = await openRecordingListener('sdk-commands', seen, { echo: true });
    cleanup.push(() => control.terminate());
    control.send(JSON.stringify({ renewToken: { token: relay.token('sdk-commands') } }));
    control.send(JSON.stringify({ injectFault: {} }));
    control.pong(Buffer.from('unsolicited'));
    control.ping(Buffer.from('hello'));
    for (let i = 0; i < 3; i++) {
      const sender = await openSender(relay, 'sdk-commands', {});
      const reply = nextMessage(sender);
      sender.send(`m${i}`);
      assert.equal((await reply).data.toString(), `m${i}`);
      sender.terminate();
    }
    await httpRequest(`${relay.httpBase}/sdk-commands/x`, { headers: { ServiceBusAuthorization: relay.token('sdk-commands') } }, 2000).catch(() => undefined);
    await waitFor(() => seen.filter((m) => 'request' in m).length >= 1, WAIT_MS, 'the request');
    for (const message of seen) assert.ok(Object.keys(message).length === 1 && ('accept' in message || 'request' in message), `unexpected command ${JSON.stringify(message).slice(0, 200)}`);
    assert.equal(control.readyState, WebSocket.OPEN, 'the relay kept the control channel');
  });

  it('accepts unsolicited pongs on control channels and relayed connections', async () => {
    const listener = await RawListener.open(relay, 'sdk-commands', { onAccept: (a, l) => acceptAndEcho(a, l) });
    cleanup.push(() => listener.close());
    for (let i = 0; i < 50; i++) listener.ws.pong(Buffer.from(`p${i}`));
    const sender = await openSender(relay, 'sdk-commands', {});
    cleanup.push(() => sender.terminate());
    for (let i = 0; i < 50; i++) sender.pong(Buffer.from(`s${i}`));
    const reply = nextMessage(sender);
    sender.send('after pongs');
    assert.equal((await reply).data.toString(), 'after pongs');
    assert.ok(listener.isOpen);
  });

  it('accepts Relay-User-Agent on listen and connect and logs it', async () => {
    const agent = 'azure-relay-dotnet/3.0.1 (Unix 6.1; .NET 8.0.1)';
    const listener = await RawListener.open(relay, 'sdk-anon', { onAccept: (a, l) => acceptAndEcho(a, l), headers: { 'Relay-User-Agent': agent } });
    cleanup.push(() => listener.close());
    const sender = await openSender(relay, 'sdk-anon', { headers: { 'Relay-User-Agent': 'azure-relay-java/0.0.6' } });
    const reply = nextMessage(sender);
    sender.send('x');
    await reply;
    sender.close(1000);
    await waitFor(() => logged.records.some((r) => r.msg === 'listener online' && r.agent === agent), WAIT_MS, 'listener online line with its agent');
    await waitFor(() => logged.records.some((r) => r.msg === 'connection ended' && r.agent === 'azure-relay-java/0.0.6'), WAIT_MS, 'connection ended line with the sender agent');
  });

  it('ends every refusal description with TrackingId, SystemTracker and Timestamp, naming the client\'s sb-hc-id', async () => {
    const id = '1b2c3d4e-aaaa-bbbb-cccc-0123456789ab';
    const listenRefusal = await expectRefusal(`${hcUrl(relay, 'no-such', 'listen')}&sb-hc-id=${id}`, { ServiceBusAuthorization: relay.token('no-such') });
    assert.equal(listenRefusal.status, 404);
    assert.match(listenRefusal.message, new RegExp(`^Endpoint does not exist.*\\. TrackingId:${id}, SystemTracker:127\\.0\\.0\\.1:\\d+, Timestamp:\\d{4}-\\d\\d-\\d\\dT`));
    const senderRefusal = await expectRefusal(hcUrl(relay, 'sdk', 'connect'), { ServiceBusAuthorization: 'SharedAccessSignature sr=a&sig=b&se=99999999999&skn=c' });
    assert.equal(senderRefusal.status, 401);
    assert.match(senderRefusal.message, /TrackingId:[0-9a-f-]{36}, SystemTracker:127\.0\.0\.1:\d+:sdk, Timestamp:/);
    const http = await httpRequest(`${relay.httpBase}/sdk/x`);
    assert.equal(http.status, 401);
    assert.match(http.reason, /TrackingId:/);
    assert.match((JSON.parse(http.body.toString()) as { error: { message: string } }).error.message, /TrackingId:[0-9a-f-]{36}/);
    const line = logged.records.find((r) => r.msg === 'listener refused' && r.trackingId === id);
    assert.ok(line, 'the log line names the same tracking id');
  });

  /** A control channel over `ws` that records every text message it gets; with echo, accepts and echoes. */
  async function openRecordingListener(entity: string, seen: Record<string, unknown>[], options: { echo?: boolean } = {}): Promise<WebSocket> {
    const ws = new WebSocket(hcUrl(relay, entity, 'listen'), { headers: { ServiceBusAuthorization: relay.token(entity) }, perMessageDeflate: false });
    ws.on('error', () => undefined);
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const message = JSON.parse(toBuffer(data).toString('utf8')) as Record<string, unknown>;
      seen.push(message);
      const accept = message.accept as { address: string } | undefined;
      if (accept && options.echo) {
        const rendezvous = new WebSocket(accept.address, { perMessageDeflate: false });
        rendezvous.on('error', () => undefined);
        rendezvous.on('message', (d, binary) => rendezvous.send(d, { binary }));
        cleanup.push(() => rendezvous.terminate());
      }
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return ws;
  }
});
