/**
 * The relayed-HTTP protocol extensions (protocol/hybridge-extensions.ts) seen from both kinds of
 * listener: the hybridge library, which announces them, learns that a waiting request's sender
 * left (its response closes) and which client connection each request
 * came on and when it closed; a listener that does not announce them (as the Azure SDKs do not)
 * gets the request command exactly as Azure's protocol has it and no extension command at all.
 */
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { RelayedHttpRequest, RelayedHttpResponse } from '../../src/client/index.js';
import { delay, waitFor, withTimeout } from '../helpers/async.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { RawListener, toBuffer } from '../relay/protocol-peers.js';
import { Cleanup, listenerFor } from './fixtures.js';

interface Seen {
  connectionId: string | undefined;
  responseClosed: boolean;
}

describe('relayed HTTP protocol extensions', () => {
  const cleanup = new Cleanup();
  let relay: TestRelay;
  const seen = new Map<string, Seen>();
  const closedConnections: string[] = [];

  function handler(req: RelayedHttpRequest, res: RelayedHttpResponse): void {
    const record: Seen = { connectionId: req.connectionId, responseClosed: false };
    seen.set(req.headers['x-test-id'] ?? '', record);
    res.on('close', () => (record.responseClosed = true));
    req.on('error', () => undefined);
    req.resume();
    if (req.url.endsWith('/wait')) return; // a long poll: answered never
    res.end('ok');
  }

  const send = (agent: Agent, entity: string, id: string, path = '/x') =>
    withTimeout(
      new Promise<number>((resolve, reject) => {
        const req = request(`${relay.httpBase}/${entity}${path}`, { agent, headers: { ServiceBusAuthorization: relay.token(entity), 'X-Test-Id': id } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end();
      }),
      10_000,
      `request ${id}`,
    );

  before(async () => {
    relay = cleanup.add(await startRelay({ hybridConnections: ['ext', 'plain'] }), (r) => r.stop());
    const listener = cleanup.listener(listenerFor(relay, 'ext', { requestHandler: handler }));
    listener.on('error', () => undefined);
    listener.on('clientConnectionClosed', (id) => closedConnections.push(id));
    await listener.open();
  });
  after(() => cleanup.run());

  it('the library learns which client connection each request came on, and when it closed', async () => {
    const one = new Agent({ keepAlive: true, maxSockets: 1 });
    const two = new Agent({ keepAlive: true, maxSockets: 1 });
    assert.equal(await send(one, 'ext', 'c1'), 200);
    assert.equal(await send(one, 'ext', 'c2'), 200);
    assert.equal(await send(two, 'ext', 'c3'), 200);
    const [c1, c2, c3] = ['c1', 'c2', 'c3'].map((id) => seen.get(id)!.connectionId);
    assert.match(c1 ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(c2, c1, 'one keep-alive connection, one id');
    assert.notEqual(c3, c1, 'another connection, another id');
    one.destroy();
    await waitFor(() => closedConnections.includes(c1!), 5000, 'clientConnectionClosed for the first connection');
    assert.ok(!closedConnections.includes(c3!), 'the open one is not reported');
    two.destroy();
    await waitFor(() => closedConnections.includes(c3!), 5000, 'clientConnectionClosed for the second');
  });

  it("a waiting request taken on the control channel ends when its sender leaves: the handler's response closes", async () => {
    const req = request(`${relay.httpBase}/ext/wait`, { agent: false, headers: { ServiceBusAuthorization: relay.token('ext'), 'X-Test-Id': 'w1' } });
    req.on('error', () => undefined);
    req.end();
    const record = await waitFor(() => seen.get('w1'), 5000, 'the handler got the request');
    await delay(200);
    assert.equal(record!.responseClosed, false);
    req.destroy();
    await waitFor(() => record!.responseClosed, 3000, "the handler's response closes");
  });

  it('a listener that does not announce the extensions (as the Azure SDKs) gets Azure\'s request command and no extension command', async () => {
    const texts: string[] = [];
    const raw = await RawListener.open(relay, 'plain');
    cleanup.add(raw, (l) => l.close());
    raw.ws.on('message', (data, isBinary) => {
      if (!isBinary) texts.push(toBuffer(data).toString('utf8'));
    });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const req = request(`${relay.httpBase}/plain/wait`, { agent, headers: { ServiceBusAuthorization: relay.token('plain') } });
    req.on('error', () => undefined);
    req.end();
    const [command] = await raw.waitRequests(1);
    assert.deepEqual(Object.keys(command!).sort(), ['address', 'body', 'id', 'method', 'remoteEndpoint', 'requestHeaders', 'requestTarget']);
    req.destroy();
    agent.destroy();
    await delay(1000);
    assert.equal(texts.length, 1, `only the request came: ${texts.join(' | ')}`);
  });
});
