/**
 * The client's address behind a load balancer (issue 15): ClientAddresses on its own (which hop of
 * Forwarded / X-Forwarded-For is the client, and only from trusted peers), then a relay in this
 * process behind a small PROXY-protocol forwarder (test/helpers/proxy-header.ts) and behind a trusted "proxy" on 127.0.0.1. The
 * address a client connects from (127.0.0.x, set with localAddress) must be the one in the
 * listener's remoteEndpoint, in the relay's log lines and in its per-address limit; the
 * forwarder's own address (127.0.0.1) must not. The real balancer test is test/e2e/load-balancer.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { ClientAddresses, parseTrustedProxy } from '../../src/relay/client-address.js';
import { delay, waitFor } from '../helpers/async.js';
import { proxyV1, proxyV2, startTcpForwarder, type TcpForwarder } from '../helpers/proxy-header.js';
import { capturingLogger, startRelay, type TestRelay } from '../helpers/relay.js';
import { acceptAndEcho, assertBinaryEcho, RawListener, type RelayAddress } from './protocol-peers.js';

function fakeRequest(peer: string, headers: Record<string, string> = {}, port = 5555): IncomingMessage {
  return { socket: { remoteAddress: peer, remotePort: port }, headers } as unknown as IncomingMessage;
}

describe('ClientAddresses', () => {
  const clients = new ClientAddresses(['10.0.0.0/8', '2001:db8:ffff::/48']);

  it('takes an untrusted peer as the client and ignores its forwarding headers', () => {
    const req = fakeRequest('192.0.2.1', { 'x-forwarded-for': '198.51.100.7', forwarded: 'for=198.51.100.8', 'x-forwarded-proto': 'https' });
    assert.deepEqual(clients.clientAddressOf(req), { address: '192.0.2.1', port: 5555 });
    assert.equal(clients.tlsAtBalancer(req), false);
  });

  it('from a trusted peer, takes the rightmost X-Forwarded-For address that is not itself trusted', () => {
    const of = (xff: string) => clients.clientAddressOf(fakeRequest('10.1.1.1', { 'x-forwarded-for': xff })).address;
    assert.equal(of('198.51.100.7'), '198.51.100.7');
    assert.equal(of('203.0.113.66, 198.51.100.7, 10.2.2.2'), '198.51.100.7', 'a client-supplied left part does not count');
    assert.equal(of('10.3.3.3, 10.2.2.2'), '10.3.3.3', 'all trusted: the leftmost');
    assert.equal(of('198.51.100.7, garbage'), '10.1.1.1', 'an unparseable hop ends the walk at the peer');
    assert.equal(of('198.51.100.7:4711'), '198.51.100.7');
    assert.equal(of('[2001:db8::5]:4711'), '2001:db8::5');
    assert.equal(clients.clientAddressOf(fakeRequest('10.1.1.1')).address, '10.1.1.1', 'no header: the peer');
  });

  it('prefers Forwarded (RFC 7239) with quoted IPv6 and ports over X-Forwarded-For', () => {
    const req = fakeRequest('10.1.1.1', { forwarded: 'for=203.0.113.66, for="[2001:db8:cafe::17]:4711";proto=https;by=10.1.1.1', 'x-forwarded-for': '198.51.100.7' });
    assert.deepEqual(clients.clientAddressOf(req), { address: '2001:db8:cafe::17', port: 4711 });
    assert.equal(clients.tlsAtBalancer(req), true);
    assert.equal(clients.clientAddressOf(fakeRequest('10.1.1.1', { forwarded: 'for=unknown' })).address, '10.1.1.1', 'unknown: the peer');
    assert.equal(clients.clientAddressOf(fakeRequest('10.1.1.1', { forwarded: 'for="_hidden", for=198.51.100.9' })).address, '198.51.100.9');
  });

  it('matches IPv4-mapped IPv6 peers against IPv4 ranges and IPv6 ranges exactly', () => {
    assert.equal(clients.isTrusted('::ffff:10.9.9.9'), true);
    assert.equal(clients.isTrusted('2001:db8:ffff:1::1'), true);
    assert.equal(clients.isTrusted('2001:db8:fffe::1'), false);
    assert.equal(clients.isTrusted('11.0.0.1'), false);
    assert.equal(clients.clientAddressOf(fakeRequest('::ffff:10.1.1.1', { 'x-forwarded-for': '198.51.100.7' })).address, '198.51.100.7');
    assert.equal(new ClientAddresses([]).isTrusted('10.0.0.1'), false, 'no --trusted-proxy: nobody is trusted');
  });

  it('checks --trusted-proxy values', () => {
    assert.deepEqual(parseTrustedProxy('10.0.0.0/8'), { address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    assert.deepEqual(parseTrustedProxy('::1'), { address: '::1', prefix: 128, family: 'ipv6' });
    assert.match(String(parseTrustedProxy('10.0.0.0/33')), /prefix length must be from 0 to 32/);
    assert.match(String(parseTrustedProxy('relay.example.com')), /not an IPv4 or IPv6 address or CIDR/);
    assert.match(String(parseTrustedProxy('10.0.0.0/8x')), /prefix length/);
  });
});

interface RawPeer {
  socket: Socket;
  text(): string;
  ended(): boolean;
}

/** A TCP connection from `localAddress` to `port`, collecting what comes back. */
function rawConnect(port: number, localAddress: string, first?: Buffer): Promise<RawPeer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    let text = '';
    let ended = false;
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    socket.on('close', () => (ended = true));
    socket.on('error', () => undefined);
    socket.once('error', reject);
    socket.once('connect', () => {
      if (first) socket.write(first);
      resolve({ socket, text: () => text, ended: () => ended });
    });
  });
}

const get = (path: string, headers: Record<string, string> = {}) =>
  Buffer.from(`GET ${path} HTTP/1.1\r\nHost: relay\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`, 'latin1');

function via(relay: TestRelay, port: number): RelayAddress {
  return { port, wsBase: `ws://127.0.0.1:${port}`, httpBase: `http://127.0.0.1:${port}`, token: relay.token };
}

describe('relay with --proxy-protocol behind a PROXY v2 forwarder', () => {
  let relay: TestRelay;
  let forwarder: TcpForwarder;
  let web: RawListener;
  let pipe: RawListener;
  const { log, records } = capturingLogger();
  const logged = (msg: string) => records.filter((r) => r.msg === msg);

  before(async () => {
    relay = await startRelay({ proxyProtocol: true, hybridConnections: ['web', 'pipe'], log, limits: { headerTimeoutMs: 500, maxUnauthenticatedPerAddress: 2 } });
    forwarder = await startTcpForwarder({ targetPort: relay.port, proxyHeader: 2 });
    web = await RawListener.open(via(relay, forwarder.port), 'web', { onRequest: (request, _body, l) => l.sendJson({ response: { requestId: request.id, statusCode: 200, body: false } }) });
    pipe = await RawListener.open(via(relay, forwarder.port), 'pipe', { onAccept: (accept, l) => acceptAndEcho(accept, l) });
  });
  after(async () => {
    await web?.close();
    await pipe?.close();
    await forwarder?.close();
    await relay?.stop();
  });

  it("hands the listener the client's address and port in a request's remoteEndpoint, and logs it", async () => {
    const peer = await rawConnect(forwarder.port, '127.0.0.2', get('/web/hello', { ServiceBusAuthorization: relay.token('web') }));
    await waitFor(() => peer.text().startsWith('HTTP/1.1 200'), 5000, 'the relayed 200');
    const [request] = await web.waitRequests(1);
    assert.deepEqual(request!.remoteEndpoint, { address: '127.0.0.2', port: peer.socket.localPort }, 'the client, not the forwarder (127.0.0.1)');
    const line = await waitFor(() => logged('http request relayed').find((r) => String(r.target).endsWith('/hello')), 3000, 'the relayed line');
    assert.equal(line!.remote, '127.0.0.2');
    peer.socket.destroy();
  });

  it("gives a sender's address in the accept's remoteEndpoint, in 'connection ended' and relays its bytes", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${forwarder.port}/$hc/pipe?sb-hc-action=connect`, { headers: { ServiceBusAuthorization: relay.token('pipe') }, localAddress: '127.0.0.3', perMessageDeflate: false });
    ws.on('error', () => undefined);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const [accept] = await pipe.waitAccepts(1);
    assert.equal(accept!.remoteEndpoint?.address, '127.0.0.3');
    assert.ok(accept!.remoteEndpoint!.port > 0, 'with the client port');
    await assertBinaryEcho(ws, Buffer.alloc(100_000, 7));
    ws.close();
    const closed = await waitFor(() => logged('connection ended').find((r) => r.trackingId === accept!.id), 5000, 'connection ended');
    assert.equal(closed!.remote, '127.0.0.3');
  });

  it("logs a refusal with the client's address and throttles by it", async () => {
    const peer = await rawConnect(forwarder.port, '127.0.0.4', get('/web/x', { ServiceBusAuthorization: 'SharedAccessSignature sr=x&sig=y&se=1&skn=z' }));
    await waitFor(() => /^HTTP\/1.1 401/.test(peer.text()), 3000, 'the 401');
    const line = await waitFor(() => logged('http request refused').find((r) => r.remote === '127.0.0.4'), 3000, 'the refusal line');
    assert.equal(line!.status, 401);
    assert.equal(logged('http request refused').filter((r) => r.remote === '127.0.0.1').length, 0, 'never the forwarder');
    peer.socket.destroy();
  });

  it('counts unauthenticated connections per client address behind the forwarder', async () => {
    const held = [await rawConnect(forwarder.port, '127.0.0.5'), await rawConnect(forwarder.port, '127.0.0.5')];
    await delay(150);
    const third = await rawConnect(forwarder.port, '127.0.0.5');
    await waitFor(() => third.ended(), 3000, 'the third connection from 127.0.0.5 closed');
    const line = await waitFor(() => logged('connection refused: too many unauthenticated connections from this address (--max-unauthenticated-per-address)').at(-1), 2000, 'the gate line');
    assert.equal(line!.remote, '127.0.0.5');
    const other = await rawConnect(forwarder.port, '127.0.0.6', get('/$hybridge/health'));
    await waitFor(() => other.text().startsWith('HTTP/1.1 200'), 3000, 'another client through the same forwarder is served');
    assert.ok(held.every((p) => !p.ended()), 'the first two stay');
    for (const p of [...held, third, other]) p.socket.destroy();
  });

  it('refuses a connection without a PROXY header at once, and one whose header stalls after the header timeout', async () => {
    const plain = await rawConnect(relay.port, '127.0.0.7', get('/$hybridge/health'));
    await waitFor(() => plain.ended(), 3000, 'a plain request closed');
    assert.equal(plain.text(), '', 'without an answer');
    const header = proxyV2({ source: { address: '203.0.113.5', port: 1 }, destination: { address: '127.0.0.1', port: relay.port } });
    const started = Date.now();
    const stalled = await rawConnect(relay.port, '127.0.0.7', header.subarray(0, 20));
    await waitFor(() => stalled.ended(), 3000, 'a stalled header closed');
    assert.ok(Date.now() - started >= 400, 'not before the header timeout (500 ms)');
    const reasons = logged('connection refused: no valid PROXY protocol header (--proxy-protocol)').map((r) => String(r.reason));
    assert.ok(reasons.some((r) => /did not start with a PROXY protocol header/.test(r)), reasons.join('; '));
    assert.ok(reasons.some((r) => /no complete PROXY protocol header within 500 ms/.test(r)), reasons.join('; '));
  });

  it('serves a v2 LOCAL connection (a health check) as from the balancer, and a v1 header the same as v2', async () => {
    const local = await rawConnect(relay.port, '127.0.0.8', Buffer.concat([proxyV2(), get('/$hybridge/health')]));
    await waitFor(() => local.text().startsWith('HTTP/1.1 200'), 3000, 'health over LOCAL');
    local.socket.destroy();
    const v1 = proxyV1({ source: { address: '198.51.100.20', port: 999 }, destination: { address: '127.0.0.1', port: relay.port } });
    const peer = await rawConnect(relay.port, '127.0.0.8', Buffer.concat([v1, get('/web/v1', { ServiceBusAuthorization: 'bad' })]));
    await waitFor(() => /^HTTP\/1.1 401/.test(peer.text()), 3000, 'the 401');
    await waitFor(() => logged('http request refused').find((r) => r.remote === '198.51.100.20'), 3000, 'the v1 source in the log');
    peer.socket.destroy();
  });
});

describe('relay with --proxy-protocol and TLS: the header comes before the TLS handshake', () => {
  let relay: TestRelay;
  let forwarder: TcpForwarder;
  const { log, records } = capturingLogger();

  before(async () => {
    relay = await startRelay({ proxyProtocol: true, tls: true, hybridConnections: ['web'], log });
    forwarder = await startTcpForwarder({ targetPort: relay.port, proxyHeader: 2 });
  });
  after(async () => {
    await forwarder?.close();
    await relay?.stop();
  });

  it('serves HTTPS after the header, with the client address from it', async () => {
    for (const localAddress of ['127.0.0.9', '127.0.0.10']) {
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpsRequest({ host: '127.0.0.1', port: forwarder.port, path: '/web/tls', localAddress, ca: relay.ca, servername: 'localhost', headers: { ServiceBusAuthorization: 'bad' }, timeout: 5000 }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(status, 401);
      await waitFor(() => records.find((r) => r.msg === 'http request refused' && r.remote === localAddress), 3000, `the refusal of ${localAddress} logged with its address`);
    }
  });
});

describe('relay with --trusted-proxy 127.0.0.1 (X-Forwarded-For, Forwarded)', () => {
  let relay: TestRelay;
  let web: RawListener;
  const { log, records } = capturingLogger();

  before(async () => {
    relay = await startRelay({ trustedProxies: ['127.0.0.1/32'], hybridConnections: ['web'], log, limits: { maxUnauthenticatedPerAddress: 2 } });
    web = await RawListener.open(relay, 'web', { onRequest: (request, _body, l) => l.sendJson({ response: { requestId: request.id, statusCode: 200, body: false } }) });
  });
  after(async () => {
    await web?.close();
    await relay?.stop();
  });

  const relayed = async (localAddress: string, headers: Record<string, string>) => {
    const before = web.requests.length;
    const peer = await rawConnect(relay.port, localAddress, get('/web/r', { ...headers, ServiceBusAuthorization: relay.token('web') }));
    await waitFor(() => peer.text().startsWith('HTTP/1.1 200'), 5000, 'the relayed 200');
    peer.socket.destroy();
    return (await web.waitRequests(before + 1))[before]!.remoteEndpoint;
  };

  it('takes the client from X-Forwarded-For or Forwarded when the peer is trusted', async () => {
    assert.deepEqual(await relayed('127.0.0.1', { 'X-Forwarded-For': '203.0.113.9, 198.51.100.7' }), { address: '198.51.100.7', port: 0 });
    assert.deepEqual(await relayed('127.0.0.1', { Forwarded: 'for="[2001:db8::9]:4711"' }), { address: '2001:db8::9', port: 4711 });
  });

  it('ignores the headers from an untrusted peer', async () => {
    const endpoint = await relayed('127.0.0.2', { 'X-Forwarded-For': '198.51.100.7', Forwarded: 'for=198.51.100.8' });
    assert.equal(endpoint?.address, '127.0.0.2');
  });

  it('logs refusals with the forwarded client and counts unauthenticated connections per forwarded client', async () => {
    // Refused requests keep their (keep-alive) connection, unauthenticated.
    const refused = (client: string) => rawConnect(relay.port, '127.0.0.1', get('/web/x', { 'X-Forwarded-For': client }));
    const held = [await refused('198.51.100.30'), await refused('198.51.100.30')];
    await waitFor(() => held.every((p) => /^HTTP\/1.1 401/.test(p.text())), 3000, 'two 401s');
    const third = await refused('198.51.100.30');
    await waitFor(() => third.ended(), 3000, 'the third connection for 198.51.100.30 closed');
    assert.equal(third.text(), '', 'without an answer');
    const other = await refused('198.51.100.31');
    await waitFor(() => /^HTTP\/1.1 401/.test(other.text()), 3000, 'another client through the same proxy is answered');
    const lines = records.filter((r) => r.msg === 'http request refused');
    assert.ok(lines.some((r) => r.remote === '198.51.100.30') && lines.some((r) => r.remote === '198.51.100.31'), JSON.stringify(lines.map((r) => r.remote)));
    assert.ok(held.every((p) => !p.ended()), 'the first two stay');
    for (const p of [...held, third, other]) p.socket.destroy();
  });
});
