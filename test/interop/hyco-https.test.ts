/**
 * An unmodified hyco-https@1.4.5 listener behind the hybridge relay, reached by plain Node
 * http(s).request and fetch senders, over plain HTTP and over TLS (certificate trusted through
 * NODE_EXTRA_CA_CERTS). Bodies of 0 B, 1 KiB, 100 KB and 2 MB go both ways (inline on the control
 * channel, address-only request rendezvous, and responses over a request rendezvous).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { patternBytes, sha256 } from '../helpers/data.js';
import { startRelay, type TestRelay } from '../helpers/relay.js';
import { peerBase, runHycoPeer } from './hyco-run.js';
import type { HttpCase, HttpCaseResult } from './hyco-types.js';

const SIZES = [0, 1024, 100_000, 2_000_000];
const QUERY = 'a=1&b=%2B&&c';
/** Headers that must arrive unchanged, and hop-by-hop ones that must not arrive at all. */
const CUSTOM_HEADERS = { 'X-Custom-One': 'one', 'X-Multi': 'a, b', 'Accept-Language': 'de-CH', 'X-Empty-Ish': ' spaced value ' };
const HOP_HEADERS = { Connection: 'keep-alive, X-Hop-Header', 'X-Hop-Header': 'hop', 'Keep-Alive': 'timeout=5', TE: 'trailers' };

let seed = 1000;
function httpCase(id: string, partial: Partial<HttpCase>): HttpCase {
  return {
    id,
    client: 'request',
    method: 'GET',
    path: `/web/${id}?${QUERY}`,
    tokenIn: 'ServiceBusAuthorization',
    headers: {},
    requestSize: 0,
    requestSeed: seed++,
    responseSize: 0,
    responseSeed: seed++,
    status: 200,
    reason: 'Fine Thanks',
    streamResponse: false,
    ...partial,
  };
}

const CASES: HttpCase[] = [
  ...SIZES.map((size) => httpCase(`get-${size}`, { responseSize: size, status: 200, reason: 'Here You Go' })),
  ...SIZES.map((size) => httpCase(`post-${size}`, { method: 'POST', requestSize: size, responseSize: size, status: 201, reason: 'Created By Listener' })),
  httpCase('post-stream-2mb', { method: 'POST', requestSize: 2_000_000, responseSize: 2_000_000, streamResponse: true, status: 202, reason: 'Accepted Streaming' }),
  httpCase('not-found', { responseSize: 1024, status: 404, reason: 'Nothing Here' }),
  httpCase('fetch-get-0', { client: 'fetch' }),
  httpCase('fetch-get-100k', { client: 'fetch', responseSize: 100_000, status: 203, reason: 'Non-Authoritative' }),
  httpCase('fetch-post-2mb', { client: 'fetch', method: 'POST', requestSize: 2_000_000, responseSize: 2_000_000, status: 200, reason: 'Fetched' }),
  httpCase('fetch-post-1k', { client: 'fetch', method: 'POST', requestSize: 1024, responseSize: 1024 }),
  httpCase('query-token', { path: `/web/query-token?a=1&sb-hc-token={token}&b=%2B&&c`, tokenIn: 'query', method: 'POST', requestSize: 1024, responseSize: 1024 }),
  httpCase('fetch-query-token', { client: 'fetch', path: `/web/fetch-query-token?a=1&sb-hc-token={token}&b=%2B&&c`, tokenIn: 'query', method: 'POST', requestSize: 100_000, responseSize: 100_000 }),
  httpCase('authorization-token', { tokenIn: 'Authorization', responseSize: 1024 }),
  httpCase('authorization-passthrough', { headers: { Authorization: 'Basic dXNlcjpwYXNz' }, responseSize: 1024 }),
  httpCase('headers', { headers: { ...CUSTOM_HEADERS, ...HOP_HEADERS }, method: 'POST', requestSize: 1024, responseSize: 1024 }),
];

for (const tls of [false, true]) {
  describe(`hyco-https listener with http.request and fetch senders over ${tls ? 'TLS (https, NODE_EXTRA_CA_CERTS)' : 'plain HTTP'}`, () => {
    let relay: TestRelay;
    const results = new Map<string, HttpCaseResult>();

    before(async () => {
      relay = await startRelay({ tls, hybridConnections: ['web'] });
      const { cases } = await runHycoPeer<{ cases: HttpCaseResult[] }>({ mode: 'http', ...peerBase(relay, 'web', 40_000), cases: CASES }, relay.ca);
      for (const r of cases) results.set(r.id, r);
    });
    after(() => relay?.stop());

    function resultOf(id: string): { sender: HttpCaseResult['sender']; listener: NonNullable<HttpCaseResult['listener']> } {
      const r = results.get(id);
      assert.ok(r, `no result for ${id}`);
      assert.ok(r.listener, `the listener never saw ${id}`);
      return { sender: r.sender, listener: r.listener };
    }

    it('carries request and response bodies of 0 B, 1 KiB, 100 KB and 2 MB intact, with status, reason and Via', () => {
      for (const c of CASES) {
        const { sender, listener } = resultOf(c.id);
        const request = patternBytes(c.requestSize, c.requestSeed);
        const response = patternBytes(c.responseSize, c.responseSeed);
        assert.equal(listener.method, c.method, `${c.id}: method`);
        assert.equal(listener.bodyLength, c.requestSize, `${c.id}: request body length`);
        assert.equal(listener.bodySha, sha256(request), `${c.id}: request body SHA-256`);
        assert.equal(sender.status, c.status, `${c.id}: status`);
        assert.equal(sender.reason, c.reason, `${c.id}: reason phrase`);
        assert.equal(sender.bodyLength, c.responseSize, `${c.id}: response body length`);
        assert.equal(sender.bodySha, sha256(response), `${c.id}: response body SHA-256`);
        assert.match(sender.headers.via ?? '', /127\.0\.0\.1/, `${c.id}: Via names the relay`);
        assert.equal(sender.headers['x-listener'], 'hyco-https', `${c.id}: listener response headers arrive`);
      }
    });

    it('passes the query byte for byte, minus sb-hc-* parameters', () => {
      for (const c of CASES) assert.equal(resultOf(c.id).listener.url, `/web/${c.id}?${QUERY}`, c.id);
    });

    it('never shows the relay token to the listener, wherever it travelled', () => {
      for (const c of CASES) {
        const { headers, url } = resultOf(c.id).listener;
        assert.equal(headers.servicebusauthorization, undefined, `${c.id}: ServiceBusAuthorization`);
        assert.doesNotMatch(url, /sb-hc-token|SharedAccessSignature/, `${c.id}: query`);
      }
      assert.equal(resultOf('authorization-token').listener.headers.authorization, undefined, 'an Authorization header that carried the token is consumed');
    });

    it('passes an Authorization header through unchanged when the token came in ServiceBusAuthorization', () => {
      assert.equal(resultOf('authorization-passthrough').listener.headers.authorization, 'Basic dXNlcjpwYXNz');
    });

    it('forwards request headers except connection-level ones', () => {
      const { headers } = resultOf('headers').listener;
      for (const [name, value] of Object.entries(CUSTOM_HEADERS)) assert.equal(headers[name.toLowerCase()], value.trim(), name);
      assert.equal(headers['x-case'], 'headers');
      for (const name of ['connection', 'keep-alive', 'te', 'x-hop-header', 'host', 'content-length', 'transfer-encoding', 'upgrade']) {
        assert.equal(headers[name], undefined, `${name} must not reach the listener`);
      }
    });
  });
}
