/**
 * Listener and sender ends for the cluster tests, built on hybridge's client library.
 *
 * An exchange listener reads everything a sender writes (length and SHA-256, per tracking id) and
 * at the same time answers with `X-Reply-Bytes` pattern bytes of seed `X-Reply-Seed`, spread over
 * `X-Reply-Ms` milliseconds. Its HTTP handler answers with the request body's length and hash in
 * headers and `X-Response-Size` pattern bytes. Both say which listener served them.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  HybridConnectionClient,
  HybridConnectionListener,
  type HybridConnectionStream,
  type RelayedHttpRequest,
  type RelayedHttpResponse,
} from '../../src/client/index.js';
import type { RemoteEndpointInfo } from '../../src/protocol/control-messages.js';
import type { TlsClientOptions } from '../../src/websocket/client-handshake.js';
import { waitFor, withTimeout } from '../helpers/async.js';
import { Digest, patternBytes, sha256 } from '../helpers/data.js';
import { nodeWithListener, type Cluster, type ClusterNode } from './cluster-kit.js';
import { digestOf, writePayload, type StreamDigest } from './streams.js';

export const HTTP_RESPONSE_SEED = 501;

/** Short reconnect steps, so that a listener moves to another node quickly in the tests. */
export const FAST_RECONNECT_MS = [0, 200, 500, 1000];

export interface Received extends StreamDigest {
  listener: string;
  /** The sender's address as the relay gave it in the accept. */
  remoteEndpoint?: RemoteEndpointInfo;
}

export class ExchangeListener {
  readonly listener: HybridConnectionListener;
  /** What arrived per tracking id. */
  readonly received = new Map<string, Received>();
  /** Connections whose bytes failed to arrive or to be answered. */
  readonly failures: Error[] = [];
  readonly errors: Error[] = [];
  /** When the control channel came online, each time. */
  readonly onlineAt: number[] = [];
  private readonly streams = new Set<HybridConnectionStream>();

  constructor(
    readonly id: string,
    connectionString: string,
    tls?: TlsClientOptions,
    preconnect?: number,
  ) {
    this.listener = new HybridConnectionListener({
      connectionString,
      tls,
      preconnect,
      listenerId: id,
      reconnectDelaysMs: FAST_RECONNECT_MS,
      requestHandler: (req, res) => this.serveHttp(req, res),
    });
    this.listener.on('error', (err) => this.errors.push(err));
    this.listener.on('online', () => this.onlineAt.push(Date.now()));
    this.listener.on('connection', (stream) => void this.serve(stream));
  }

  static async open(id: string, connectionString: string, tls?: TlsClientOptions, preconnect?: number): Promise<ExchangeListener> {
    const peer = new ExchangeListener(id, connectionString, tls, preconnect);
    await withTimeout(peer.listener.open(), 15_000, `listener ${id} open`);
    return peer;
  }

  get onlineCount(): number {
    return this.onlineAt.length;
  }

  get isOnline(): boolean {
    return this.listener.isOnline;
  }

  async close(): Promise<void> {
    for (const s of this.streams) s.destroy();
    await withTimeout(this.listener.close(), 10_000, `listener ${this.id} close`).catch(() => undefined);
  }

  private async serve(stream: HybridConnectionStream): Promise<void> {
    this.streams.add(stream);
    stream.once('close', () => this.streams.delete(stream));
    stream.on('error', () => undefined);
    const headers = lowerCase(stream.info.connectHeaders ?? {});
    const replyBytes = Number(headers['x-reply-bytes'] ?? 0);
    const replySeed = Number(headers['x-reply-seed'] ?? 1);
    const replyMs = Number(headers['x-reply-ms'] ?? 0);
    const trackingId = stream.info.trackingId;
    try {
      const reading = digestOf(stream, 60_000, `listener ${this.id} read`);
      const writing = writePayload(stream, patternBytes(replyBytes, replySeed), { durationMs: replyMs, timeoutMs: 60_000 });
      const [digest] = await Promise.all([reading, writing]);
      const received = { ...digest, listener: this.id, remoteEndpoint: stream.info.remoteEndpoint };
      this.received.set(trackingId, received);
    } catch (err) {
      this.failures.push(err as Error);
      stream.destroy();
    }
  }

  private async serveHttp(req: RelayedHttpRequest, res: RelayedHttpResponse): Promise<void> {
    const digest = new Digest();
    for await (const chunk of req) digest.update(chunk as Buffer);
    const size = Number(req.headers['x-response-size'] ?? 0);
    res.setHeader('X-Listener-Id', this.id);
    res.setHeader('X-Request-Length', String(digest.length));
    res.setHeader('X-Request-Sha256', digest.hex());
    res.setHeader('Content-Type', 'application/octet-stream');
    res.end(size > 0 ? patternBytes(size, HTTP_RESPONSE_SEED) : undefined);
  }
}

export interface ExchangeOptions {
  upload: Buffer;
  replyBytes: number;
  replySeed: number;
  /** Spread the upload (and the reply) over this time. */
  uploadMs?: number;
  replyMs?: number;
  /** Retry budget for the connect (createConnection's own retries of 404/503). */
  retryBudgetMs?: number;
  allowedListeners?: string[];
  timeoutMs?: number;
  /** Extra TLS trust for the sender (a balancer's self-signed certificate). */
  tls?: TlsClientOptions;
  /** The sender's pre-connected sockets per relay host (the library's default when absent). */
  preconnect?: number;
}

export interface Exchange {
  trackingId: string;
  stream: HybridConnectionStream;
  /** Completes when the upload was written and the whole reply read. */
  done: Promise<StreamDigest>;
}

/** Opens a connection as a sender and starts an exchange; `done` gives the reply's digest. */
export async function startExchange(connectionString: string, options: ExchangeOptions): Promise<Exchange> {
  const trackingId = randomUUID();
  const client = new HybridConnectionClient({ connectionString, tls: options.tls, preconnect: options.preconnect });
  const stream = await client.createConnection({
    trackingId,
    retryBudgetMs: options.retryBudgetMs ?? 0,
    allowedListeners: options.allowedListeners,
    headers: { 'X-Reply-Bytes': String(options.replyBytes), 'X-Reply-Seed': String(options.replySeed), 'X-Reply-Ms': String(options.replyMs ?? 0) },
  });
  stream.on('error', () => undefined);
  const timeoutMs = options.timeoutMs ?? 60_000;
  const reading = digestOf(stream, timeoutMs, `sender ${trackingId} read`);
  const writing = writePayload(stream, options.upload, { durationMs: options.uploadMs, timeoutMs });
  const done = Promise.all([reading, writing]).then(([digest]) => digest);
  done.catch(() => stream.destroy());
  return { trackingId, stream, done };
}

export interface ExchangeResult {
  trackingId: string;
  reply: StreamDigest;
  atListener: Received;
}

/** A whole exchange, checked by the caller: reply digest at the sender, upload digest at whichever listener took it. */
export async function runExchange(connectionString: string, listeners: ExchangeListener[], options: ExchangeOptions): Promise<ExchangeResult> {
  const exchange = await startExchange(connectionString, options);
  const reply = await exchange.done;
  const atListener = await arrival(listeners, exchange.trackingId, 10_000);
  return { trackingId: exchange.trackingId, reply, atListener };
}

/**
 * runExchange with `bytes` each way (upload of seed `uploadSeed`, reply of seed `replySeed`), checked:
 * the reply at the sender and the upload's SHA-256 at the listener, both named `what` when it is given.
 */
export async function checkedExchange(
  connectionString: string,
  listeners: ExchangeListener[],
  exchange: { bytes: number; uploadSeed: number; replySeed: number; what?: string } & Omit<ExchangeOptions, 'upload' | 'replyBytes' | 'replySeed'>,
): Promise<ExchangeResult> {
  const { bytes, uploadSeed, what, ...options } = exchange;
  const upload = patternBytes(bytes, uploadSeed);
  const r = await runExchange(connectionString, listeners, { ...options, upload, replyBytes: bytes });
  assert.deepEqual(r.reply, expected(bytes, options.replySeed), what && `${what}: reply`);
  assert.equal(r.atListener.sha256, sha256(upload), what && `${what}: upload at the listener`);
  return r;
}

/**
 * Checks an exchange started earlier once it is done: the reply (`reply.bytes` pattern bytes of seed
 * `reply.seed`) at the sender, and the upload's length and SHA-256 at whichever of `listeners` took it.
 */
export async function checkFinished(listeners: ExchangeListener[], exchange: Exchange, upload: Buffer, reply: { bytes: number; seed: number }, what: string): Promise<void> {
  assert.deepEqual(await exchange.done, expected(reply.bytes, reply.seed), `${what}: reply at the sender`);
  const got = await arrival(listeners, exchange.trackingId, 10_000);
  assert.equal(got.length, upload.length, `${what}: upload length at the listener`);
  assert.equal(got.sha256, sha256(upload), `${what}: upload SHA-256 at the listener`);
}

/**
 * Opens an exchange listener per id through the cluster's balancer (each added to `listeners` once
 * open), then waits until each is online on a node: the node of each listener id.
 */
export async function openThroughBalancer(cluster: Cluster, hyco: string, ids: string[], listeners: ExchangeListener[]): Promise<Map<string, ClusterNode>> {
  // Without pre-connected sockets: a listener warms its relay host as soon as it is online, and those
  // sockets would take turns of the round-robin balancer, so the listeners would not land one per node.
  for (const id of ids) listeners.push(await ExchangeListener.open(id, cluster.connectionString(cluster.balancer.url, hyco), undefined, 0));
  const homes = new Map<string, ClusterNode>();
  for (const id of ids) homes.set(id, (await waitFor(() => nodeWithListener(cluster.nodes, id), 5000, `${id} online somewhere`))!);
  return homes;
}

/** For after(): closes `listeners`, then stops the cluster (when it started). */
export async function endClusterSuite(cluster: Cluster | undefined, listeners: ExchangeListener[]): Promise<void> {
  await Promise.all(listeners.map((l) => l.close()));
  await cluster?.stop();
}

/** What arrived for `trackingId` at whichever of `listeners` took it, bounded. */
export function arrival(listeners: ExchangeListener[], trackingId: string, timeoutMs: number): Promise<Received> {
  return waitFor(() => listeners.map((l) => l.received.get(trackingId)).find((r) => r !== undefined), timeoutMs, `arrival of ${trackingId} at a listener`).then((r) => r!);
}

/** Expected digest of `n` pattern bytes of `seed`. */
export function expected(n: number, seed: number): StreamDigest {
  const bytes = patternBytes(n, seed);
  return { length: bytes.length, sha256: sha256(bytes) };
}

function lowerCase(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

export interface HttpReply {
  status: number;
  headers: Headers;
  body: Buffer;
}

/** Sends one HTTP request through the relay (token in ServiceBusAuthorization), bounded. */
export async function sendHttp(url: string, token: string, options: { body?: Buffer; responseSize?: number; timeoutMs?: number } = {}): Promise<HttpReply> {
  const response = await fetch(url, {
    method: options.body ? 'POST' : 'GET',
    headers: { ServiceBusAuthorization: token, 'X-Response-Size': String(options.responseSize ?? 0) },
    body: options.body,
    signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
  });
  return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
}
