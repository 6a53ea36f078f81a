/**
 * The ARM client against a local HTTPS stand-in (ARM cannot run here): the bearer token and JSON
 * body go out, transient answers (429 with Retry-After, 503) are retried until the deadline and no
 * longer, errors carry ARM's code, and an oversized answer is cut off.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ArmClient, ArmError, ArmTokenError, ArmUnreachableError } from '../../src/arc/arm-client.js';
import type { TokenProvider } from '../../src/client/token-provider.js';
import { generateSelfSignedCertificate } from '../../src/relay/self-signed.js';

type Handler = (req: { method: string; url: string; headers: Record<string, unknown>; body: string }, res: import('node:http').ServerResponse) => void;

describe('ArmClient', () => {
  const cert = generateSelfSignedCertificate(['127.0.0.1'], 'ARM stand-in');
  let server: Server;
  let endpoint: string;
  let handler: Handler = () => undefined;
  let hits = 0;
  const tokens: TokenProvider = { getToken: async () => ({ token: 'tkn', expiresAt: Date.now() + 3600e3 }) };

  before(async () => {
    server = createServer({ cert: cert.cert, key: cert.key }, (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        hits++;
        handler({ method: req.method!, url: req.url!, headers: req.headers, body }, res);
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    endpoint = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const client = (t: TokenProvider = tokens) => new ArmClient({ endpoint, tokens: t, ca: cert.cert });
  const json = (res: import('node:http').ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };

  it('sends the bearer token, the query and the JSON body', async () => {
    let seen: Parameters<Handler>[0] | undefined;
    handler = (req, res) => {
      seen = req;
      json(res, 200, { ok: 1 });
    };
    const answer = await client().send({ method: 'POST', path: '/subscriptions/s/x/listCredentials', query: { expiresin: '10800', 'api-version': '2023-03-15' }, body: { serviceName: 'SSH' }, deadline: Date.now() + 5000 });
    assert.deepEqual(answer, { ok: 1 });
    assert.equal(seen!.url, '/subscriptions/s/x/listCredentials?expiresin=10800&api-version=2023-03-15');
    assert.equal(seen!.headers.authorization, 'Bearer tkn');
    assert.equal(seen!.headers['content-type'], 'application/json');
    assert.equal(seen!.body, '{"serviceName":"SSH"}');
  });

  it('retries 429 (after its Retry-After) and 503, then returns the answer', async () => {
    hits = 0;
    const times: number[] = [];
    handler = (_req, res) => {
      times.push(Date.now());
      if (times.length === 1) return json(res, 429, { error: { code: 'TooManyRequests', message: 'slow down' } }, { 'Retry-After': '0' });
      if (times.length === 2) return json(res, 503, { error: { code: 'ServiceUnavailable', message: 'busy' } });
      json(res, 200, { done: true });
    };
    assert.deepEqual(await client().send({ method: 'GET', path: '/x', query: {}, deadline: Date.now() + 10_000 }), { done: true });
    assert.equal(hits, 3);
    assert.ok(times[2]! - times[1]! >= 900, 'the 503 was followed by the backoff');
  });

  it('stops retrying at the deadline with ARM\'s error', async () => {
    hits = 0;
    handler = (_req, res) => json(res, 503, { error: { code: 'ServiceUnavailable', message: 'busy\nfor a while' } });
    const err = await client().send({ method: 'GET', path: '/x', query: {}, deadline: Date.now() + 2500 }).catch((e: Error) => e);
    assert.ok(err instanceof ArmError);
    assert.equal(err.status, 503);
    assert.equal(err.code, 'ServiceUnavailable');
    assert.equal(err.detail, 'busy for a while');
    assert.ok(hits >= 2 && hits <= 3, `attempts within 2.5 s: ${hits}`);
  });

  it('does not retry a permanent error', async () => {
    hits = 0;
    handler = (_req, res) => json(res, 403, { error: { code: 'AuthorizationFailed', message: 'no' } });
    const err = await client().send({ method: 'GET', path: '/x', query: {}, deadline: Date.now() + 10_000 }).catch((e: Error) => e);
    assert.ok(err instanceof ArmError && err.status === 403 && err.code === 'AuthorizationFailed');
    assert.equal(hits, 1);
  });

  it('cuts off an answer larger than 1 MiB', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(Buffer.alloc(2 * 1024 * 1024, 0x20));
    };
    const err = await client().send({ method: 'GET', path: '/x', query: {}, deadline: Date.now() + 5000 }).catch((e: Error) => e);
    assert.ok(err instanceof ArmUnreachableError && /larger than 1048576 bytes/.test(err.message), String(err));
  });

  it('says when the certificate is not trusted, and when no token can be had', async () => {
    const untrusting = new ArmClient({ endpoint, tokens });
    const tlsErr = await untrusting.send({ method: 'GET', path: '/x', query: {}, deadline: Date.now() + 5000 }).catch((e: Error) => e);
    assert.ok(tlsErr instanceof ArmUnreachableError && /TLS certificate is not trusted.*--ca or NODE_EXTRA_CA_CERTS/.test(tlsErr.message), String(tlsErr));
    const noToken = client({ getToken: async () => Promise.reject(new Error('could not get a Microsoft Entra ID token: nobody signed in')) });
    const tokenErr = await noToken.send({ method: 'GET', path: '/x', query: {}, deadline: Date.now() + 5000 }).catch((e: Error) => e);
    assert.ok(tokenErr instanceof ArmTokenError && /nobody signed in; sign in \(az login\)/.test(tokenErr.message), String(tokenErr));
  });
});
