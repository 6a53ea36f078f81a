/**
 * Real HTTP servers and clients for the relayed-HTTP tests of `-H`: a node:http target whose
 * routes stream, pause, stall, hold or die on cue and record what they saw (a request or its
 * socket closing early), and a fetch and a curl that report what the client got (status, body
 * length and SHA-256, or how it failed).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { delay, withTimeout } from '../helpers/async.js';
import { Digest, patternBytes } from '../helpers/data.js';
import type { TestRelay } from '../helpers/relay.js';
import { track } from './bridge-kit.js';
import { scratchDir } from '../helpers/scratch.js';

/** What the target saw of one request, by its X-Test-Id. */
export interface TargetRecord {
  id: string;
  path: string;
  /** The request (or its socket) closed before the target finished its response. */
  closedEarly: boolean;
  requestBytes: number;
  socket: Socket;
}

export interface ScriptedTarget {
  port: number;
  server: Server;
  records: Map<string, TargetRecord>;
  close(): Promise<void>;
}

/** One server-sent event as the target writes it; `sseBody(n)` is what a client must receive. */
export function sseEvent(i: number): string {
  return `id: ${i}\ndata: ${'event '.repeat(8)}${i}\n\n`;
}

export function sseBody(count: number): Buffer {
  return Buffer.from(Array.from({ length: count }, (_, i) => sseEvent(i)).join(''));
}

export const DRIP_CHUNK = 64 * 1024;

/** The bytes /drip?chunks=N sends. */
export function dripBody(chunks: number): Buffer {
  return patternBytes(chunks * DRIP_CHUNK, 77);
}

/**
 * Routes (query parameters in brackets):
 * - /sse [events, every]: text/event-stream, one event every `every` ms
 * - /drip [chunks, every]: application/octet-stream, chunked, 64 KiB every `every` ms
 * - /slow-head [ms]: answers after `ms`
 * - /pause [ms]: head and a chunk, then a pause of `ms`, then a last chunk
 * - /stall: head and a chunk, then nothing
 * - /die-chunked, /die-length [bytes]: head and `bytes` (100 000) of the body (chunked, or of a 1 MB Content-Length), then the socket is destroyed
 * - /hold: reads the whole body, then never answers (a long poll)
 */
export async function startScriptedTarget(): Promise<ScriptedTarget> {
  const records = new Map<string, TargetRecord>();
  return { ...(await startHttpServer((req, res) => void route(req, res, records))), records };
}

/** A node:http server on 127.0.0.1, closed (connections and all) by the bridge suite's cleanup. */
export async function startHttpServer(handler: RequestListener): Promise<{ port: number; server: Server; close(): Promise<void> }> {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return track({
    port: (server.address() as AddressInfo).port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

/**
 * What a bridge (and the CLI) needs to trust a TLS test relay: NODE_EXTRA_CA_CERTS pointing at its
 * certificate, written to a file, which curl takes as --cacert. Nothing for a plain relay.
 */
export function trustRelay(relay: TestRelay): { env: Record<string, string>; caFile: string } {
  if (!relay.ca) return { env: {}, caFile: '' };
  const caFile = join(scratchDir('hybridge-relay-ca-'), 'ca.pem');
  writeFileSync(caFile, relay.ca);
  return { env: { NODE_EXTRA_CA_CERTS: caFile }, caFile };
}

async function route(req: IncomingMessage, res: ServerResponse, records: Map<string, TargetRecord>): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://target');
  const id = String(req.headers['x-test-id'] ?? '');
  const record: TargetRecord = { id, path: url.pathname, closedEarly: false, requestBytes: 0, socket: req.socket };
  if (id) records.set(id, record);
  res.on('close', () => {
    if (!res.writableFinished) record.closedEarly = true;
  });
  const body = new Digest();
  req.on('data', (c: Buffer) => {
    body.update(c);
    record.requestBytes = body.length;
  });
  const number = (name: string, fallback: number) => Number(url.searchParams.get(name) ?? fallback);
  switch (url.pathname) {
    case '/sse': {
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
      for (let i = 0; i < number('events', 10); i++) {
        if (res.destroyed) return;
        res.write(sseEvent(i));
        await delay(number('every', 200));
      }
      return void res.end();
    }
    case '/drip': {
      const bytes = dripBody(number('chunks', 8));
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      for (let offset = 0; offset < bytes.length; offset += DRIP_CHUNK) {
        if (res.destroyed) return;
        res.write(bytes.subarray(offset, offset + DRIP_CHUNK));
        await delay(number('every', 200));
      }
      return void res.end();
    }
    case '/slow-head':
      await delay(number('ms', 1000));
      if (!res.destroyed) res.end('finally');
      return;
    case '/pause':
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.write('first\n');
      await delay(number('ms', 1000));
      if (!res.destroyed) res.end('second\n');
      return;
    case '/stall':
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.write('first\n');
      return;
    case '/die-chunked':
    case '/die-length': {
      const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream' };
      if (url.pathname === '/die-length') headers['Content-Length'] = String(1_000_000);
      res.writeHead(200, headers);
      res.write(patternBytes(number('bytes', 100_000), 5));
      await delay(300);
      req.socket.destroy();
      return;
    }
    case '/hold':
      return;
    default:
      res.writeHead(404);
      res.end();
  }
}

/** What a client got: a complete response, or a failure after `bytes` body bytes. */
export interface ClientOutcome {
  status: number;
  bytes: number;
  sha256: string;
  complete: boolean;
  error?: string;
  text: string;
  ms: number;
}

/** fetch (undici) through the relay; the body is read to its end or its failure. */
export async function fetchThrough(url: string, headers: Record<string, string>, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<ClientOutcome> {
  const started = Date.now();
  const digest = new Digest();
  const parts: Buffer[] = [];
  let status = 0;
  try {
    const res = await withTimeout(fetch(url, { headers, signal: options.signal }), options.timeoutMs ?? 20_000, `fetch ${url}`);
    status = res.status;
    const reader = res.body!.getReader();
    for (;;) {
      const { done, value } = await withTimeout(reader.read(), options.timeoutMs ?? 20_000, `reading ${url}`);
      if (done) break;
      const chunk = Buffer.from(value);
      digest.update(chunk);
      if (parts.length < 64) parts.push(chunk);
    }
    return { status, bytes: digest.length, sha256: digest.hex(), complete: true, text: Buffer.concat(parts).toString(), ms: Date.now() - started };
  } catch (err) {
    const cause = (err as Error & { cause?: Error }).cause;
    return { status, bytes: digest.length, sha256: digest.hex(), complete: false, error: `${(err as Error).message}${cause ? `: ${cause.message}` : ''}`, text: Buffer.concat(parts).toString(), ms: Date.now() - started };
  }
}

/** curl through the relay: its exit code (0, or 18 partial file / 56 receive failure / ...), the status and the body. */
export async function curlThrough(url: string, headers: Record<string, string>, extra: string[] = []): Promise<ClientOutcome & { code: number; stderr: string }> {
  const started = Date.now();
  const args = ['-sS', '--max-time', '20', '-w', '%{stderr}HTTP-STATUS %{http_code}\n', ...extra, ...Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]), url];
  const child = spawn('curl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const digest = new Digest();
  const parts: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => {
    digest.update(c);
    if (parts.length < 64) parts.push(c);
  });
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const [code] = (await withTimeout(once(child, 'close'), 30_000, 'curl')) as [number];
  const status = Number(/HTTP-STATUS (\d+)/.exec(stderr)?.[1] ?? 0);
  const error = code === 0 ? undefined : `curl exit ${code}: ${stderr.replace(/HTTP-STATUS \d+\n?/, '').trim()}`;
  return { code, stderr, status, bytes: digest.length, sha256: digest.hex(), complete: code === 0, error, text: Buffer.concat(parts).toString(), ms: Date.now() - started };
}
