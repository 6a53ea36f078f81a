/**
 * Our listener's requestHandler with plain Node senders, as hyco-https users send: http.request,
 * https.request and fetch with the token in ServiceBusAuthorization. Bodies of 0 B, 1 KiB, 100 KB
 * and 2 MB both ways (inline on the control channel up to 64 KiB, over a request rendezvous
 * above), a slow streamed response that has to switch to the rendezvous after 2 s, a throwing
 * handler (500), no handler (501) and HEAD.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RelayedHttpRequest, RelayedHttpResponse } from '../../src/client/index.js';
import { delay } from '../helpers/async.js';
import { Digest, patternBytes, sha256 } from '../helpers/data.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { Cleanup, KiB, listenerFor } from './fixtures.js';
import { fetchRequest, nodeRequest, type HttpResult, type HttpSend } from './http-senders.js';

const RESPONSE_SEED = 77;
const SLOW_FIRST = 10 * KiB;
const SLOW_SECOND = 200 * KiB;

/** Reads the body, then answers with `x-response-size` pattern bytes and what it received in headers. */
function handler(req: RelayedHttpRequest, res: RelayedHttpResponse): void | Promise<void> {
  const mode = req.headers['x-mode'];
  if (mode === 'throw-sync') throw new Error('handler failed synchronously');
  return (async () => {
    const digest = new Digest();
    for await (const chunk of req) digest.update(chunk as Buffer);
    if (mode === 'throw-async') throw new Error('handler failed after reading the body');
    res.setHeader('X-Request-Length', String(digest.length));
    res.setHeader('X-Request-Sha256', digest.hex());
    res.setHeader('X-Seen-Method', req.method);
    res.setHeader('X-Seen-Url', req.url);
    res.setHeader('X-Seen-Custom', req.headers['x-custom'] ?? '');
    res.setHeader('X-Saw-Relay-Token', String(req.headers.servicebusauthorization !== undefined));
    res.setHeader('Content-Type', 'application/octet-stream');
    if (mode === 'slow') {
      const body = patternBytes(SLOW_FIRST + SLOW_SECOND, RESPONSE_SEED);
      res.write(body.subarray(0, SLOW_FIRST));
      await delay(2500);
      res.end(body.subarray(SLOW_FIRST));
      return;
    }
    const size = Number(req.headers['x-response-size'] ?? 0);
    res.writeHead(Number(req.headers['x-status'] ?? 200), req.headers['x-reason'] ?? 'OK');
    res.end(size > 0 ? patternBytes(size, RESPONSE_SEED) : undefined);
  })();
}

type Sender = (url: string, send: HttpSend) => Promise<HttpResult>;

const SIZES = [0, KiB, 100_000, 2_000_000];

for (const tls of [false, true]) {
  describe(`our listener's requestHandler with plain ${tls ? 'https' : 'http'} senders`, () => {
    const cleanup = new Cleanup();
    let relay: TestRelay;
    const senders: [string, Sender][] = tls ? [['https.request', nodeRequest]] : [['http.request', nodeRequest], ['fetch', fetchRequest]];

    /** Request rendezvous sockets the listener opened (counted at the relay's door). */
    let rendezvous = 0;

    before(async () => {
      relay = cleanup.add(await startRelay({ tls, hybridConnections: ['web', 'nohandler'] }), (r) => r.stop());
      const http = relay.server.http;
      const original = http.rendezvous.bind(http);
      http.rendezvous = (...args: Parameters<typeof original>) => {
        rendezvous++;
        original(...args);
      };
      const listener = cleanup.listener(listenerFor(relay, 'web', { requestHandler: handler }));
      await listener.open();
      await cleanup.listener(listenerFor(relay, 'nohandler')).open();
    });
    after(() => cleanup.run());

    const send = (sender: Sender, path: string, options: HttpSend & { entity?: string } = {}) =>
      sender(`${relay.httpBase}/${options.entity ?? 'web'}${path}`, {
        ...options,
        ca: relay.ca,
        headers: { ServiceBusAuthorization: relay.token(options.entity ?? 'web'), ...options.headers },
      });

    for (const [name, sender] of senders) {
      for (const requestSize of SIZES) {
        for (const responseSize of SIZES) {
          // The full matrix for http.request; the diagonal and the lopsided extremes for the others.
          const inMatrix = name === 'http.request' || requestSize === responseSize || (requestSize === 0 && responseSize === 2_000_000) || (requestSize === 2_000_000 && responseSize === 0);
          if (!inMatrix) continue;
          it(`${name}: POST ${requestSize} B, response ${responseSize} B, both intact`, async () => {
            const rendezvousBefore = rendezvous;
            const body = requestSize > 0 ? patternBytes(requestSize, 500 + requestSize % 97) : undefined;
            const result = await send(sender, '/upload/a?x=1&y=two', {
              method: 'POST',
              body,
              headers: { 'X-Response-Size': String(responseSize), 'X-Custom': 'custom value', 'Content-Type': 'application/octet-stream' },
            });
            assert.equal(result.status, 200, JSON.stringify(result));
            assert.equal(result.headers['x-request-length'], String(requestSize), 'request bytes at the listener');
            assert.equal(result.headers['x-request-sha256'], sha256(body ?? Buffer.alloc(0)), 'request SHA-256 at the listener');
            assert.equal(result.length, responseSize, 'response bytes at the sender');
            assert.equal(result.sha256, sha256(responseSize > 0 ? patternBytes(responseSize, RESPONSE_SEED) : Buffer.alloc(0)), 'response SHA-256 at the sender');
            assert.equal(result.headers['x-seen-method'], 'POST');
            assert.equal(result.headers['x-seen-url'], '/web/upload/a?x=1&y=two');
            assert.equal(result.headers['x-seen-custom'], 'custom value');
            assert.equal(result.headers['x-saw-relay-token'], 'false', 'the relay token does not reach the listener');
            assert.match(result.headers.via ?? '', /127\.0\.0\.1/, 'the relay adds Via');
            // Up to 64 KiB each way stays on the control channel; anything larger takes one rendezvous.
            const expected = requestSize > 64 * KiB || responseSize > 64 * KiB ? 1 : 0;
            assert.equal(rendezvous - rendezvousBefore, expected, 'request rendezvous sockets opened');
          });
        }
      }

      it(`${name}: a response written, paused 2.5 s and finished arrives intact over the rendezvous`, async () => {
        const started = Date.now();
        const rendezvousBefore = rendezvous;
        const result = await send(sender, '/slow', { headers: { 'X-Mode': 'slow' } });
        assert.equal(result.status, 200);
        assert.equal(rendezvous - rendezvousBefore, 1, 'the response moved to a rendezvous');
        // The first part left the listener when it switched, at 2 s, before the second write at 2.5 s.
        assert.ok(result.firstByteAt !== undefined && result.firstByteAt - started < 2450, `first body byte after ${(result.firstByteAt ?? 0) - started} ms`);
        const expected = patternBytes(SLOW_FIRST + SLOW_SECOND, RESPONSE_SEED);
        assert.equal(result.length, expected.length);
        assert.equal(result.sha256, sha256(expected));
        assert.ok(Date.now() - started >= 2400, 'the handler paused');
      });

      it(`${name}: a handler that throws gives 500, synchronously or after reading the body`, async () => {
        for (const mode of ['throw-sync', 'throw-async']) {
          const result = await send(sender, '/boom', { method: 'POST', body: Buffer.from('x'), headers: { 'X-Mode': mode } });
          assert.equal(result.status, 500, mode);
          assert.equal(result.length, 0);
        }
      });

      it(`${name}: a listener without a requestHandler answers 501`, async () => {
        const result = await send(sender, '/anything', { entity: 'nohandler', method: 'POST', body: patternBytes(100_000, 3) });
        assert.equal(result.status, 501);
        if (name !== 'fetch') assert.match(result.statusMessage, /RequestHandler has not been configured/);
      });

      it(`${name}: HEAD gets the status and headers but no body`, async () => {
        const result = await send(sender, '/head', { method: 'HEAD', headers: { 'X-Response-Size': '5000' } });
        assert.equal(result.status, 200);
        assert.equal(result.headers['x-seen-method'], 'HEAD');
        assert.equal(result.length, 0);
      });

      it(`${name}: status code and reason phrase from the handler reach the sender`, async () => {
        const result = await send(sender, '/teapot', { headers: { 'X-Status': '418', 'X-Reason': 'Short And Stout', 'X-Response-Size': '10' } });
        assert.equal(result.status, 418);
        if (name !== 'fetch') assert.equal(result.statusMessage, 'Short And Stout');
        assert.equal(result.length, 10);
      });
    }
  });
}
