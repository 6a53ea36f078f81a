/**
 * Relayed HTTP at the wire level (protocol reference §2.2, §2.3): which path a request takes
 * (inline on the control channel, address-only + request rendezvous for large, chunked or slow
 * bodies), where responses may come back (control channel, or a rendezvous the listener opens),
 * and the details of headers, concurrency and keep-alive. The listener is spoken by hand.
 */
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import type { RequestCommand } from '../../src/protocol/control-messages.js';
import { delay, withTimeout } from '../helpers/async.js';
import { patternBytes, sha256 } from '../helpers/data.js';
import type { TestRelay } from '../helpers/relay.js';
import { httpRequest, RawListener, startRelayWithHealthyLink, stopRelayWithHealthyLink, toBuffer, WAIT_MS, type HealthyLink, type HttpAnswer } from './protocol-peers.js';

/** How the scripted listener answers one request. */
interface Plan {
  status?: number;
  reason?: string;
  headers?: Record<string, string | string[]>;
  body?: Buffer;
  /** Answer over a request rendezvous the listener opens (as hyco-https does above 64 KiB). */
  viaRendezvous?: boolean;
  /** Send the body in this many frames (the last one final). */
  frames?: number;
  delayMs?: number;
}

interface Seen {
  request: RequestCommand;
  body: Buffer | undefined;
  /** 'inline' (complete on the control channel) or 'rendezvous' (address-only form). */
  path: 'inline' | 'rendezvous';
}

describe('relayed HTTP paths', () => {
  let relay: TestRelay;
  let healthy: HealthyLink;
  let listener: RawListener;
  const seen: Seen[] = [];
  let plan: (seen: Seen) => Plan = () => ({});

  function sendResponse(ws: WebSocket, request: RequestCommand, p: Plan): void {
    const body = p.body;
    ws.send(JSON.stringify({ response: { requestId: request.id, statusCode: p.status ?? 200, statusDescription: p.reason, responseHeaders: p.headers, body: body !== undefined } }));
    if (body === undefined) return;
    const frames = Math.max(1, p.frames ?? 1);
    const step = Math.ceil(body.length / frames) || 1;
    for (let i = 0; i < frames; i++) ws.send(body.subarray(i * step, Math.min(body.length, (i + 1) * step)), { binary: true, fin: i === frames - 1 });
  }

  function answer(control: WebSocket, s: Seen, address: string): void {
    const p = plan(s);
    const go = () => {
      if (!p.viaRendezvous) return sendResponse(control, s.request, p);
      const ws = new WebSocket(address, { perMessageDeflate: false });
      ws.on('error', () => undefined);
      ws.once('open', () => {
        sendResponse(ws, s.request, p);
        ws.close();
      });
    };
    if (p.delayMs) setTimeout(go, p.delayMs);
    else go();
  }

  /** Address-only request: fetch the request (and body) over the rendezvous, answer there. */
  function rendezvous(address: string): void {
    const ws = new WebSocket(address, { perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
    ws.on('error', () => undefined);
    let request: RequestCommand | undefined;
    ws.on('message', (data, isBinary) => {
      if (!isBinary) {
        request = (JSON.parse(toBuffer(data).toString('utf8')) as { request: RequestCommand }).request;
        if (request.body) return;
        const s: Seen = { request, body: undefined, path: 'rendezvous' };
        seen.push(s);
        sendResponse(ws, request, plan(s));
        return;
      }
      const s: Seen = { request: request!, body: toBuffer(data), path: 'rendezvous' };
      seen.push(s);
      sendResponse(ws, request!, plan(s));
    });
  }

  before(async () => {
    ({ relay, healthy } = await startRelayWithHealthyLink({ hybridConnections: ['api', 'healthy'], limits: { httpResponseTimeoutMs: 5000, httpResponseIdleTimeoutMs: 5000 } }));
    listener = await RawListener.open(relay, 'api', {
      onRequest: (request, body, l) => {
        if (request.method === undefined) return rendezvous(request.address);
        const s: Seen = { request, body, path: 'inline' };
        seen.push(s);
        answer(l.ws, s, request.address);
      },
    });
  });
  after(async () => {
    await listener?.close();
    await stopRelayWithHealthyLink(relay, healthy);
  });

  const auth = () => ({ ServiceBusAuthorization: relay.token('api') });
  const last = () => seen[seen.length - 1]!;

  async function post(path: string, body: Buffer, headers: Record<string, string> = {}): Promise<HttpAnswer> {
    return httpRequest(`${relay.httpBase}${path}`, { method: 'POST', headers: { ...auth(), ...headers }, body });
  }

  it('sends a body of exactly 64 KiB inline and one of 64 KiB + 1 over the request rendezvous', async () => {
    plan = (s) => ({ body: Buffer.from(sha256(s.body ?? Buffer.alloc(0))) });
    for (const [size, path] of [
      [64 * 1024, 'inline'],
      [64 * 1024 + 1, 'rendezvous'],
    ] as const) {
      const body = patternBytes(size, size);
      const answer = await post('/api/size', body);
      assert.equal(answer.status, 200);
      assert.equal(answer.body.toString(), sha256(body));
      assert.equal(last().path, path, `${size} bytes`);
      assert.equal(last().request.method, 'POST');
    }
    await healthy.check();
  });

  it('takes a chunked request body (no Content-Length) over the rendezvous, intact', async () => {
    plan = (s) => ({ body: Buffer.from(`${s.body?.length}:${sha256(s.body ?? Buffer.alloc(0))}`) });
    const parts = [patternBytes(1000, 1), patternBytes(70_000, 2), patternBytes(5, 3)];
    const answer = await withTimeout(
      new Promise<string>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: relay.port, path: '/api/chunked', method: 'PUT', headers: auth(), agent: false }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve(Buffer.concat(chunks).toString()));
        });
        req.on('error', reject);
        void (async () => {
          for (const p of parts) {
            req.write(p);
            await delay(30);
          }
          req.end();
        })();
      }),
      WAIT_MS,
      'chunked PUT',
    );
    const all = Buffer.concat(parts);
    assert.equal(answer, `${all.length}:${sha256(all)}`);
    assert.equal(last().path, 'rendezvous');
    assert.equal(last().request.requestHeaders?.['Transfer-Encoding'] ?? last().request.requestHeaders?.['transfer-encoding'], undefined);
    await healthy.check();
  });

  it('moves a small body that arrives too slowly to the rendezvous, without losing what came first', async () => {
    plan = (s) => ({ body: Buffer.from(`${s.body?.length}:${sha256(s.body ?? Buffer.alloc(0))}`) });
    const body = patternBytes(2000, 9);
    const answer = await withTimeout(
      new Promise<string>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: relay.port, path: '/api/slow', method: 'POST', headers: { ...auth(), 'Content-Length': String(body.length) }, agent: false }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve(Buffer.concat(chunks).toString()));
        });
        req.on('error', reject);
        req.write(body.subarray(0, 700));
        setTimeout(() => req.end(body.subarray(700)), 1300);
      }),
      WAIT_MS,
      'slow POST',
    );
    assert.equal(answer, `${body.length}:${sha256(body)}`);
    assert.equal(last().path, 'rendezvous');
    await healthy.check();
  });

  it('accepts a response over a rendezvous the listener opens for an inline request, body in many frames', async () => {
    const big = patternBytes(3 * 1024 * 1024 + 7, 11);
    plan = () => ({ status: 206, reason: 'Partial But Fine', body: big, viaRendezvous: true, frames: 40, headers: { 'content-type': 'application/x-test' } });
    const answer = await httpRequest(`${relay.httpBase}/api/big`, { headers: auth() });
    assert.equal(answer.status, 206);
    assert.equal(answer.reason, 'Partial But Fine');
    assert.equal(answer.headers['content-type'], 'application/x-test');
    assert.equal(answer.body.length, big.length);
    assert.equal(sha256(answer.body), sha256(big));
    assert.equal(last().path, 'inline');
    await healthy.check();
  });

  it('accepts a control-channel response body above 64 KiB (as .NET may send within 2 s) and an empty one', async () => {
    const body = patternBytes(200_000, 12);
    plan = () => ({ body, frames: 3 });
    const answer = await httpRequest(`${relay.httpBase}/api/inline-big`, { headers: auth() });
    assert.equal(answer.body.length, body.length);
    assert.equal(sha256(answer.body), sha256(body));
    plan = () => ({ status: 200, body: Buffer.alloc(0) });
    const empty = await httpRequest(`${relay.httpBase}/api/empty`, { headers: auth() });
    assert.equal(empty.status, 200);
    assert.equal(empty.body.length, 0);
    await healthy.check();
  });

  it('matches responses to requests by id when they come back out of order', async () => {
    plan = (s) => {
      const n = Number(/n=(\d+)/.exec(s.request.requestTarget ?? '')?.[1]);
      return { delayMs: (5 - n) * 60, reason: `Answer ${n}`, body: Buffer.from(`n=${n}`) };
    };
    const answers = await Promise.all([0, 1, 2, 3, 4].map((n) => httpRequest(`${relay.httpBase}/api/order?n=${n}`, { headers: auth() })));
    answers.forEach((a, n) => {
      assert.equal(a.reason, `Answer ${n}`);
      assert.equal(a.body.toString(), `n=${n}`);
    });
    await healthy.check();
  });

  it('passes multi-valued response headers, drops connection-level ones, joins repeated request headers', async () => {
    plan = () => ({
      headers: { 'set-cookie': ['a=1; Path=/', 'b=2; Path=/'], 'x-one': 'value', connection: 'close', 'transfer-encoding': 'chunked', 'keep-alive': 'timeout=1' },
      body: Buffer.from('ok'),
    });
    const answer = await withTimeout(
      new Promise<{ headers: NodeJS.Dict<string | string[]>; body: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: relay.port, path: '/api/headers', agent: false, headers: ['Host', `127.0.0.1:${relay.port}`, ...Object.entries(auth()).flat(), 'X-Dup', 'first', 'X-Dup', 'second'] as unknown as Record<string, string> }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks).toString() }));
        });
        req.on('error', reject);
        req.end();
      }),
      WAIT_MS,
      'GET with headers',
    );
    assert.equal(answer.body, 'ok');
    assert.deepEqual(answer.headers['set-cookie'], ['a=1; Path=/', 'b=2; Path=/']);
    assert.equal(answer.headers['x-one'], 'value');
    assert.notEqual(answer.headers['keep-alive'], 'timeout=1');
    assert.ok(String(answer.headers.via).includes('127.0.0.1'));
    const forwarded = last().request.requestHeaders ?? {};
    assert.equal(forwarded['X-Dup'], 'first, second');
    await healthy.check();
  });

  it('serves several requests on one kept-alive sender connection, and a HEAD without a body', async () => {
    plan = (s) => ({ reason: `for ${s.request.method} ${s.request.requestTarget}`, body: s.request.method === 'HEAD' ? undefined : Buffer.from(s.request.requestTarget ?? '') });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const ports = new Set<number>();
      for (const path of ['/api/k1', '/api/k2?x=1', '/api/k3']) {
        const got = await withTimeout(
          new Promise<{ body: string; port: number }>((resolve, reject) => {
            const req = request({ host: '127.0.0.1', port: relay.port, path, agent, headers: auth() }, (res) => {
              const chunks: Buffer[] = [];
              res.on('data', (c: Buffer) => chunks.push(c));
              res.on('end', () => resolve({ body: Buffer.concat(chunks).toString(), port: req.socket?.localPort ?? 0 }));
            });
            req.on('error', reject);
            req.end();
          }),
          WAIT_MS,
          `keep-alive GET ${path}`,
        );
        assert.equal(got.body, path);
        ports.add(got.port);
      }
      assert.equal(ports.size, 1, 'all three went over one connection');
      const head = await httpRequest(`${relay.httpBase}/api/h`, { method: 'HEAD', headers: auth() });
      assert.equal(head.status, 200);
      assert.equal(head.body.length, 0);
      assert.equal(last().request.method, 'HEAD');
    } finally {
      agent.destroy();
    }
    await healthy.check();
  });
});
