import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { endBridgeSuite, startBridge, track } from '../bridge/bridge-kit.js';
import { freePort, withTimeout } from '../helpers/async.js';
import { Digest, patternBytes, sha256 } from '../helpers/data.js';
import type { RunningProcess } from '../helpers/processes.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { generateSelfSignedCertificate } from '../../src/relay/self-signed.js';
import { scratchDir } from '../helpers/scratch.js';

const MiB = 1024 * 1024;

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: { length: number; sha256: string };
}

/** An HTTP target that records each request (body hashed) and answers through `answer`. */
async function startHttpTarget(answer: (req: IncomingMessage, seen: Seen, res: import('node:http').ServerResponse) => void): Promise<{ port: number; seen: Seen[]; server: Server; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const digest = new Digest();
    req.on('data', (c: Buffer) => digest.update(c));
    req.on('end', () => {
      const record = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: { length: digest.length, sha256: digest.hex() } };
      seen.push(record);
      answer(req, record, res);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return track({
    port: (server.address() as AddressInfo).port,
    seen,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  digest: { length: number; sha256: string };
}

/** Sends a request through the relay's HTTP endpoint; the body is hashed as it streams in. */
function relayRequest(relay: TestRelay, path: string, options: { method?: string; headers?: Record<string, string>; body?: Buffer; keepBody?: boolean } = {}): Promise<Answer> {
  return withTimeout(
    new Promise<Answer>((resolve, reject) => {
      // Options rather than a URL, so the path goes out exactly as written (no dot-segment cleanup).
      const req = request({ host: '127.0.0.1', port: relay.port, path, method: options.method ?? 'GET', headers: options.headers }, (res) => {
        const digest = new Digest();
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => {
          digest.update(c);
          if (options.keepBody !== false && digest.length < MiB) parts.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts), digest: { length: digest.length, sha256: digest.hex() } }));
        res.on('error', reject);
      });
      req.on('error', reject);
      if (options.body) {
        const body = options.body;
        let offset = 0;
        const pump = () => {
          while (offset < body.length) {
            const chunk = body.subarray(offset, Math.min(body.length, offset + 256 * 1024));
            offset += chunk.length;
            if (!req.write(chunk)) return void req.once('drain', pump);
          }
          req.end();
        };
        pump();
      } else req.end();
    }),
    60_000,
    `HTTP ${options.method ?? 'GET'} ${path}`,
  );
}

describe('hybridge bridge -H: HTTP reverse proxy (processes)', () => {
  let relay: TestRelay;
  let bridge: RunningProcess;
  let big: Awaited<ReturnType<typeof startHttpTarget>>;
  let one: Awaited<ReturnType<typeof startHttpTarget>>;
  let two: Awaited<ReturnType<typeof startHttpTarget>>;
  let api: Awaited<ReturnType<typeof startHttpTarget>>;
  const reply = patternBytes(50 * MiB, 61);
  const auth = (entity: string) => ({ ServiceBusAuthorization: relay.token(entity) });

  before(async () => {
    relay = await startRelay({ hybridConnections: ['sh-big', 'sh-two', 'sh-path', 'sh-down', 'sh-tcp', 'sh-tls', 'sh-tls-strict'] });
    big = await startHttpTarget((_req, seen, res) => {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'X-Request-Sha256': seen.body.sha256, 'X-Request-Length': String(seen.body.length) });
      res.end(reply);
    });
    const named = (name: string) => (_req: IncomingMessage, _seen: Seen, res: import('node:http').ServerResponse) => res.end(name);
    one = await startHttpTarget(named('one'));
    two = await startHttpTarget(named('two'));
    api = await startHttpTarget((req, _seen, res) => {
      if (req.url?.startsWith('/api/v1/old')) {
        res.writeHead(302, { Location: '/api/v1/new' });
        res.end();
        return;
      }
      res.end(`path ${req.url}`);
    });
    const closed = await freePort();
    bridge = await startBridge([
      '-x', relay.connectionString(),
      '-H', `sh-big:http/127.0.0.1:${big.port}`,
      '-H', `sh-two:http/127.0.0.1:${one.port};http/127.0.0.1:${two.port}`,
      '-H', `sh-path:http/127.0.0.1/api/v1:${api.port}`,
      '-H', `sh-down:http/127.0.0.1:${closed}`,
      '-T', `sh-tcp:${closed}`,
    ]);
  });

  after(() => endBridgeSuite(relay));

  test('50 MB request body and 50 MB response body stream through intact; Authorization and Content-Type arrive unchanged', async () => {
    const body = patternBytes(50 * MiB, 62);
    const contentType = 'application/cloudevents+json;charset=utf-8;foo=bar';
    const answer = await relayRequest(relay, '/sh-big/upload?x=1', {
      method: 'POST',
      headers: { ...auth('sh-big'), Authorization: 'Bearer bearbear', 'Content-Type': contentType, 'X-Custom': 'kept' },
      body,
      keepBody: false,
    });
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.digest, { length: reply.length, sha256: sha256(reply) }, 'the response body arrived intact');
    assert.equal(answer.headers['x-request-sha256'], sha256(body), 'the target received the request body intact');
    assert.equal(answer.headers['x-request-length'], String(body.length));
    assert.equal(answer.headers['content-type'], 'application/octet-stream');
    const seen = big.seen.at(-1)!;
    assert.equal(seen.method, 'POST');
    assert.equal(seen.url, '/upload?x=1');
    assert.equal(seen.headers.authorization, 'Bearer bearbear', 'Authorization passes end to end');
    assert.equal(seen.headers['content-type'], contentType);
    assert.equal(seen.headers['x-custom'], 'kept');
    assert.equal(seen.headers.servicebusauthorization, undefined, 'the relay token does not reach the target');
    assert.equal(seen.headers.host, `127.0.0.1:${big.port}`, 'the target sees its own Host');
    await bridge.waitForOutput(/http request ended hyco=sh-big method=POST path="\/upload\?x=1" target=http:\/\/127\.0\.0\.1:\d+ .*status=200/);
  });

  test('several -H targets on one relay take turns', async () => {
    const bodies: string[] = [];
    for (let i = 0; i < 6; i++) bodies.push((await relayRequest(relay, '/sh-two/', { headers: auth('sh-two') })).body.toString());
    assert.deepEqual(bodies, ['one', 'two', 'one', 'two', 'one', 'two']);
    assert.equal(one.seen.length, 3);
    assert.equal(two.seen.length, 3);
  });

  test('the target path prefix is kept, dot segments cannot leave it, redirects are passed back', async () => {
    const ok = await relayRequest(relay, '/sh-path/items/7?sort=asc', { headers: auth('sh-path') });
    assert.equal(ok.body.toString(), 'path /api/v1/items/7?sort=asc');
    const escape = await relayRequest(relay, '/sh-path/items/%2e%2e/%2e%2e/%2e%2e/secret', { headers: auth('sh-path') });
    assert.equal(escape.status, 400);
    const moved = await relayRequest(relay, '/sh-path/old', { headers: auth('sh-path') });
    assert.equal(moved.status, 302);
    assert.equal(moved.headers.location, '/api/v1/new');
  });

  test('an unreachable target answers 502 with a clear text', async () => {
    const answer = await relayRequest(relay, '/sh-down/x', { headers: auth('sh-down') });
    assert.equal(answer.status, 502);
    assert.match(answer.body.toString(), /hybridge bridge could not reach http:\/\/127\.0\.0\.1:\d+ for relay sh-down: connection refused/);
  });

  test('https targets: a self-signed certificate is refused (502) unless the binding says Insecure: true', async () => {
    const cert = generateSelfSignedCertificate(['localhost', '127.0.0.1']);
    const secure = createHttpsServer({ cert: cert.cert, key: cert.key }, (_req, res) => res.end('secret stuff'));
    secure.listen(0, '127.0.0.1');
    await once(secure, 'listening');
    const port = (secure.address() as AddressInfo).port;
    track({ close: () => new Promise<void>((r) => (secure.closeAllConnections(), secure.close(() => r()))) });
    const config = join(scratchDir('hybridge-bridge-https-'), 'https.yml');
    writeFileSync(
      config,
      [
        'RemoteForward:',
        '  - RelayName: sh-tls',
        '    Bindings:',
        `      - { Http: true, PortName: https, Host: 127.0.0.1, HostPort: ${port}, Insecure: true }`,
        '  - RelayName: sh-tls-strict',
        '    Bindings:',
        `      - { Http: true, PortName: https, Host: 127.0.0.1, HostPort: ${port} }`,
        '',
      ].join('\n'),
    );
    const tls = await startBridge(['-x', relay.connectionString(), '-f', config]);
    const insecure = await relayRequest(relay, '/sh-tls/', { headers: auth('sh-tls') });
    assert.equal(insecure.status, 200);
    assert.equal(insecure.body.toString(), 'secret stuff');
    const strict = await relayRequest(relay, '/sh-tls-strict/', { headers: auth('sh-tls-strict') });
    assert.equal(strict.status, 502);
    assert.match(strict.body.toString(), /could not reach https:\/\/127\.0\.0\.1:\d+ for relay sh-tls-strict: .*certificate/i);
    await tls.stop();
  });

  test('an HTTP request to a relay that only has -T forwarders answers 501, not 500', async () => {
    const answer = await relayRequest(relay, '/sh-tcp/x', { headers: auth('sh-tcp') });
    assert.equal(answer.status, 501);
    assert.match(answer.body.toString(), /relay sh-tcp forwards TCP, UDP or Unix-socket connections \(-T\), not HTTP requests/);
  });
});
